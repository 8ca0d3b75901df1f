package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/exekra/orchestrator/storage"
)

func TestStartRestrictsAnOpenDataDir(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("modes; Windows' access lists are tested in cmd/internal/privfile")
	}
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, storage.FileName)
	if err := os.WriteFile(db, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "operator.key")
	if err := os.WriteFile(outside, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	securePrivateFiles(log, dir, outside)
	for p, want := range map[string]os.FileMode{dir: 0o700, db: 0o600, outside: 0o640} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %04o", p, fi.Mode().Perm(), err, want)
		}
	}
	out := logs.String()
	if strings.Count(out, "restricted a private file") != 2 || !strings.Contains(out, "the TLS key is readable by other accounts") {
		t.Errorf("log:\n%s", out)
	}
	logs.Reset()
	securePrivateFiles(log, dir, "")
	if logs.Len() != 0 {
		t.Errorf("a private data dir was reported again:\n%s", logs.String())
	}

	// A directory shared with other files (--data-dir . in a project) is
	// reported, never changed.
	shared := t.TempDir()
	os.Chmod(shared, 0o755)
	os.WriteFile(filepath.Join(shared, "go.mod"), nil, 0o644)
	logs.Reset()
	securePrivateFiles(log, shared, "")
	if fi, _ := os.Stat(shared); fi.Mode().Perm() != 0o755 || !strings.Contains(logs.String(), "give Exekra a directory of its own") {
		t.Errorf("shared dir: mode %04o, log:\n%s", fi.Mode().Perm(), logs.String())
	}
}

func TestServiceCommandIsWired(t *testing.T) {
	// Only command lines that fail before anything is installed: this
	// machine's service manager is never touched by tests.
	var out, errb bytes.Buffer
	if code := run([]string{"service", "install", "serve", "--adr", ":1"}, &out, &errb, func(string) string { return "" }); code != 2 ||
		!strings.Contains(errb.String(), "-adr") {
		t.Errorf("install with a wrong serve flag: exit %d, %q", code, errb.String())
	}
	out.Reset()
	if code := run([]string{"service", "--help"}, &out, &errb, func(string) string { return "" }); code != 0 || !strings.Contains(out.String(), "install") {
		t.Errorf("service --help: exit %d", code)
	}
}
