package client

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSavedLoginIsPrivate(t *testing.T) {
	home := t.TempDir()
	env := func(k string) string {
		if k == "XDG_CONFIG_HOME" {
			return home
		}
		return ""
	}
	if s, err := loadSaved(env); err != nil || s != nil {
		t.Fatalf("no login yet: %v %v", s, err)
	}
	path, err := save(env, &Saved{Server: "https://h:4545", Token: "t0k", Email: "a@b"})
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(home, "exekra", "credentials.json") {
		t.Fatalf("path %s", path)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v", fi.Mode())
	}
	if fi, _ := os.Stat(filepath.Dir(path)); fi.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v", fi.Mode())
	}
	s, err := loadSaved(env)
	if err != nil || s.Token != "t0k" || s.Server != "https://h:4545" {
		t.Fatalf("loaded %+v %v", s, err)
	}
	if err := forget(env); err != nil {
		t.Fatal(err)
	}
	if s, _ := loadSaved(env); s != nil {
		t.Fatal("forgotten login still loads")
	}
}

func TestTableAndObjectOutput(t *testing.T) {
	var out bytes.Buffer
	var list []any
	_ = json.Unmarshal([]byte(`[{"id":"1","name":"A","workflow":{"name":"W"},"n":1700000000000,"error":null}]`), &list)
	printTable(&out, list, []Column{{"ID", "id"}, {"WORKFLOW", "workflow.name"}, {"N", "n"}, {"ERROR", "error"}})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[1], "W") || !strings.Contains(lines[1], "1700000000000") {
		t.Fatalf("table:\n%s", out.String())
	}
	out.Reset()
	printObject(&out, map[string]any{"id": "x", "logs": "one\ntwo\n", "status": "OK"}, []Column{{"ID", "id"}})
	if s := out.String(); !strings.HasPrefix(s, "id:") || !strings.HasSuffix(s, "logs:\none\ntwo\n") || !strings.Contains(s, "status: OK") {
		t.Fatalf("object:\n%s", s)
	}
}

func TestWorkflowFileAndSameJSON(t *testing.T) {
	for _, c := range []struct {
		file string
		ok   bool
	}{
		{`{"name":"a","graph":{"nodes":[],"edges":[]}}`, true},
		{`{"name":"a","graphJson":"{\"nodes\":[],\"edges\":[]}"}`, true},
		{`{"graph":{}}`, false},
		{`{"name":"a"}`, false},
		{`{"name":"a","graph":{},"graphJson":"{}"}`, false},
		{`{"name":"a","graphJson":"not json"}`, false},
	} {
		var wf workflowFile
		if err := json.Unmarshal([]byte(c.file), &wf); err != nil {
			t.Fatal(err)
		}
		if _, err := wf.graphText(); (err == nil) != c.ok {
			t.Errorf("%s: %v", c.file, err)
		}
	}
	if !sameJSON(`{"a":1, "b":[1,2]}`, `{"b":[1,2],"a":1}`) || sameJSON(`{"a":1}`, `{"a":2}`) {
		t.Fatal("sameJSON")
	}
}

func TestNormalizeServer(t *testing.T) {
	for in, want := range map[string]string{"https://h:4545/": "https://h:4545", "http://h": "http://h"} {
		if got, err := normalizeServer(in); err != nil || got != want {
			t.Errorf("%s: %q %v", in, got, err)
		}
	}
	for _, bad := range []string{"h:4545", "ftp://h", "https://u:p@h", ""} {
		if _, err := normalizeServer(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
