package service

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLineLevel(t *testing.T) {
	for line, want := range map[string]Level{
		`time=2026-01-01T00:00:00Z level=INFO msg="exekra serving"`:     LevelInfo,
		`time=2026-01-01T00:00:00Z level=WARN msg="serving plain HTTP"`: LevelWarning,
		`time=2026-01-01T00:00:00Z level=ERROR msg="listen :4545"`:      LevelError,
		`{"time":"2026","level":"ERROR","msg":"x"}`:                     LevelError,
		`{"time":"2026","level":"WARN","msg":"x"}`:                      LevelWarning,
		`exekra: listen :4545: address already in use`:                  LevelInfo,
	} {
		if got := lineLevel(line); got != want {
			t.Errorf("lineLevel(%q) = %d, want %d", line, got, want)
		}
	}
}

func TestLineSplitter(t *testing.T) {
	var got []string
	s := &lineSplitter{emit: func(l string) { got = append(got, l) }}
	for _, w := range []string{"one\ntw", "o\r\n", "\n", "three"} {
		s.Write([]byte(w))
	}
	if want := []string{"one", "two"}; !slices.Equal(got, want) {
		t.Fatalf("lines %q, want %q (three waits for its newline)", got, want)
	}
	s.Write([]byte(strings.Repeat("x", maxLine+1)))
	if len(got) != 3 || !strings.HasPrefix(got[2], "three") {
		t.Fatalf("an overlong partial line was kept: %d lines", len(got))
	}
}

func TestRotatingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "svc.log")
	f, err := openLogFile(path, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"aaaa\n", "bbbb\n", "cccc\n"} {
		if _, err := f.Write([]byte(w)); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	cur, _ := os.ReadFile(path)
	old, _ := os.ReadFile(path + ".1")
	if string(cur) != "cccc\n" || string(old) != "aaaa\nbbbb\n" {
		t.Fatalf("current %q, rotated %q", cur, old)
	}
	if _, err := f.Write([]byte("x")); err == nil {
		t.Error("a write after Close succeeded")
	}
}
