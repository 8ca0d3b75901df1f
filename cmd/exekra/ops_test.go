package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
	"github.com/exekra/orchestrator/storage"
)

// runCmd runs an exekra command line and returns its exit code and output.
func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb, func(string) string { return "" })
	return code, out.String(), errb.String()
}

// seedDataDir creates a database in dir holding one user.
func seedDataDir(t *testing.T, dir, email string) *messages.User {
	t.Helper()
	s, err := storage.Open(dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	u := &messages.User{ID: messages.NewID(now), Email: email, Name: "Seed", Role: messages.RoleAdmin, CreatedAt: messages.TimeOf(now)}
	if err := s.CreateUser(u, nil); err != nil {
		t.Fatal(err)
	}
	return u
}

func hasUser(t *testing.T, dir, email string) bool {
	t.Helper()
	s, err := storage.Open(dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u, err := s.UserByEmail(email)
	if err != nil {
		t.Fatal(err)
	}
	return u != nil
}

func TestOpsCommandUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"backup", "--data-dir", t.TempDir()},
		{"backup", "--out"},
		{"backup", "--out", "x", "extra"},
		{"restore", "--data-dir", t.TempDir()},
		{"restore", "--from", "x", "--bogus"},
		{"compact", "--data-dir", ""},
		{"compact", "positional"},
	} {
		code, _, stderr := runCmd(args...)
		if code != 2 || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line", args, code, stderr)
		}
	}
}

func TestOpsBackupRestoreCompactCommands(t *testing.T) {
	src := t.TempDir()
	seedDataDir(t, src, "seed@example.com")
	out := filepath.Join(t.TempDir(), "backup.db")
	code, stdout, stderr := runCmd("backup", "--data-dir", src, "--out", out)
	if code != 0 || !strings.Contains(stdout, "bytes") {
		t.Fatalf("backup: %d %q %q", code, stdout, stderr)
	}

	// Into a missing directory, then refused over it without --force.
	dst := filepath.Join(t.TempDir(), "fresh")
	if code, stdout, stderr := runCmd("restore", "--from", out, "--data-dir", dst); code != 0 {
		t.Fatalf("restore: %d %q %q", code, stdout, stderr)
	}
	if !hasUser(t, dst, "seed@example.com") {
		t.Fatal("restored database lacks the user")
	}
	seedDataDir(t, dst, "later@example.com")
	code, _, stderr = runCmd("restore", "--from", out, "--data-dir", dst)
	if code != 1 || !strings.Contains(stderr, "--force") {
		t.Fatalf("restore over a database: %d %q", code, stderr)
	}
	if !hasUser(t, dst, "later@example.com") {
		t.Fatal("a refused restore changed the database")
	}
	code, stdout, _ = runCmd("restore", "--from", out, "--data-dir", dst, "--force")
	if code != 0 || !strings.Contains(stdout, "kept as") {
		t.Fatalf("restore --force: %d %q", code, stdout)
	}
	if hasUser(t, dst, "later@example.com") || !hasUser(t, dst, "seed@example.com") {
		t.Fatal("restore --force did not install the backup")
	}

	// An empty directory works; a file that is not our database does not.
	empty := t.TempDir()
	if code, _, stderr := runCmd("restore", "--from", out, "--data-dir", empty); code != 0 {
		t.Fatalf("restore into an empty dir: %d %q", code, stderr)
	}
	junk := filepath.Join(t.TempDir(), "junk.db")
	_ = os.WriteFile(junk, bytes.Repeat([]byte{7}, 64<<10), 0o600)
	if code, _, stderr := runCmd("restore", "--from", junk, "--data-dir", t.TempDir()); code != 1 || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("restore of junk: %d %q", code, stderr)
	}

	code, stdout, stderr = runCmd("compact", "--data-dir", src)
	if code != 0 || !strings.Contains(stdout, "before") || !strings.Contains(stdout, "after") {
		t.Fatalf("compact: %d %q %q", code, stdout, stderr)
	}
	if !hasUser(t, src, "seed@example.com") {
		t.Fatal("compacted database lacks the user")
	}
}

func TestOpsCommandsRefuseARunningServer(t *testing.T) {
	dir := t.TempDir()
	s, err := storage.Open(dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, args := range [][]string{
		{"backup", "--data-dir", dir, "--out", filepath.Join(t.TempDir(), "b.db")},
		{"compact", "--data-dir", dir},
	} {
		code, _, stderr := runCmd(args...)
		if code != 1 || !strings.Contains(stderr, "running server") {
			t.Errorf("%v: %d %q", args, code, stderr)
		}
	}
	if code, _, stderr := runCmd("backup", "--data-dir", t.TempDir(), "--out", filepath.Join(t.TempDir(), "b.db")); code != 1 || !strings.Contains(stderr, "no database") {
		t.Errorf("backup of an empty dir: %d %q", code, stderr)
	}
}

// compact says "larger" when a tiny file grows (it printed "-60.0% smaller").
func TestCompactSizeChange(t *testing.T) {
	for _, c := range []struct {
		before, after int64
		want          string
	}{{1000, 250, "75.0% smaller"}, {20480, 32768, "60.0% larger"}, {4096, 4096, "same size"}} {
		if got := sizeChange(c.before, c.after); got != c.want {
			t.Errorf("%d → %d: %q, want %q", c.before, c.after, got, c.want)
		}
	}
}
