package refrunner

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestGraphOrder(t *testing.T) {
	cases := []struct {
		name    string
		graph   string
		want    string
		wantErr string
	}{
		{"edges reorder the array", `{"nodes":[{"id":"c","type":"end"},{"id":"b","type":"log"},{"id":"a","type":"start"}],
			"edges":[{"source":"a","target":"b"},{"source":"b","target":"c"}]}`, "a b c", ""},
		{"ties go by array order", `{"nodes":[{"id":"s","type":"start"},{"id":"y","type":"log"},{"id":"x","type":"log"},{"id":"e","type":"end"}],
			"edges":[{"source":"s","target":"x"},{"source":"s","target":"y"},{"source":"x","target":"e"},{"source":"y","target":"e"}]}`, "s y x e", ""},
		{"several roots", `{"nodes":[{"id":"b","type":"log"},{"id":"a","type":"log"},{"id":"c","type":"log"}],"edges":[{"source":"a","target":"c"}]}`, "b a c", ""},
		{"no edges keeps array order", `{"nodes":[{"id":"2","type":"log"},{"id":"1","type":"log"}],"edges":[]}`, "2 1", ""},
		{"empty graph", `{"nodes":[],"edges":[]}`, "", ""},
		{"cycle", `{"nodes":[{"id":"a","type":"log"},{"id":"b","type":"log"}],"edges":[{"source":"a","target":"b"},{"source":"b","target":"a"}]}`, "", "cycle"},
		{"unknown edge target", `{"nodes":[{"id":"a","type":"log"}],"edges":[{"source":"a","target":"zz"}]}`, "", `"zz"`},
		{"duplicate id", `{"nodes":[{"id":"a","type":"log"},{"id":"a","type":"end"}],"edges":[]}`, "", "twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, err := ParseGraph([]byte(tc.graph))
			if err != nil {
				t.Fatal(err)
			}
			order, err := g.Order()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, n := range order {
				ids = append(ids, n.ID)
			}
			if got := strings.Join(ids, " "); got != tc.want {
				t.Errorf("order = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseGraphAcceptsStringOrObject(t *testing.T) {
	obj := `{"nodes":[{"id":"a","type":"start"}],"edges":[]}`
	str, _ := json.Marshal(obj)
	for _, raw := range []string{obj, string(str)} {
		g, err := ParseGraph([]byte(raw))
		if err != nil || len(g.Nodes) != 1 || g.Nodes[0].ID != "a" {
			t.Errorf("ParseGraph(%s) = %+v, %v", raw, g, err)
		}
	}
}

func TestPrepareValidatesParams(t *testing.T) {
	cases := []struct {
		node    string
		shell   bool
		wantErr string
	}{
		{`{"id":"l","type":"log","params":{"message":"hi"}}`, false, ""},
		{`{"id":"l","type":"log"}`, false, "params.message is required"},
		{`{"id":"d","type":"delay","params":{"ms":250}}`, false, ""},
		{`{"id":"d","type":"delay","params":{"ms":"250"}}`, false, ""},
		{`{"id":"d","type":"delay","params":{"ms":-1}}`, false, "params.ms"},
		{`{"id":"d","type":"delay","params":{"ms":1.5}}`, false, "whole number"},
		{`{"id":"h","type":"http","params":{"url":"ftp://x"}}`, false, "params.url"},
		{`{"id":"h","type":"http","params":{"url":"http://127.0.0.1/","expectStatus":42}}`, false, "expectStatus"},
		{`{"id":"h","type":"http","params":{"method":"GE T","url":"http://127.0.0.1/"}}`, false, "not an HTTP method"},
		{`{"id":"f","type":"fail"}`, false, ""},
		{`{"id":"s","type":"shell","params":{"command":"true"}}`, false, "disabled"},
		{`{"id":"s","type":"shell","params":{"command":"true"}}`, true, ""},
		{`{"id":"s","type":"shell","params":{}}`, true, "params.command is required"},
		{`{"id":"x","type":"mystery"}`, false, "unknown node type"},
		{`{"id":"x","type":"log","params":{"message":7}}`, false, "bad params"},
	}
	for _, tc := range cases {
		var n Node
		if err := json.Unmarshal([]byte(tc.node), &n); err != nil {
			t.Fatal(err)
		}
		_, err := prepare(n, tc.shell)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s (shell %v): unexpected error %v", tc.node, tc.shell, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s (shell %v): err = %v, want one mentioning %q", tc.node, tc.shell, err, tc.wantErr)
		}
	}
}

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	for i := range 50 {
		d := b.next()
		ceiling := min(b.min<<min(i, 10), b.max)
		if d < b.min/4 || d > ceiling {
			t.Fatalf("attempt %d: %v outside [%v, %v]", i, d, b.min/4, ceiling)
		}
	}
	b.reset()
	if d := b.next(); d > b.min {
		t.Errorf("after reset the first pause is %v, want at most %v", d, b.min)
	}
}

func TestExecLogLinesAndPutBack(t *testing.T) {
	now := time.Date(2025, 1, 15, 10, 0, 5, 123_000_000, time.UTC)
	l := newExecLog(func() time.Time { return now }, discardLogger())
	l.add("first\nsecond")
	got := l.take()
	want := "[2025-01-15T10:00:05.123Z] first\n[2025-01-15T10:00:05.123Z] second\n"
	if got != want {
		t.Fatalf("take = %q, want %q", got, want)
	}
	l.add("third")
	l.putBack(got)
	if again := l.take(); again != want+"[2025-01-15T10:00:05.123Z] third\n" {
		t.Errorf("after putBack take = %q", again)
	}
	if l.take() != "" {
		t.Error("take should empty the log")
	}
}
