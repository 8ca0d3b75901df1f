//go:build unix

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMakeRunScript runs what `make run` runs after the build
// (scripts/dev-run.sh) as the README's set-up describes it: on a new data
// dir it starts the server, activates and bootstraps it, and prints the
// admin login with the commands to use it; those printed commands work as
// printed; a second start on the same data dir prints the same login; and
// Ctrl-C (SIGINT to the process group, as a terminal sends it) stops it
// with exit 0.
func TestMakeRunScript(t *testing.T) {
	if testing.Short() {
		skipUnlessCI(t, "runs scripts/dev-run.sh with the built binary: not with -short")
	}
	for _, tool := range []string{"bash", "curl", "base64"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipUnlessCI(t, "make run needs "+tool)
		}
	}
	// The script works from the repository root (bin/exekra, ./data): a
	// copy of it under a temp root with the built binary as bin/exekra.
	work := t.TempDir()
	for _, d := range []string{"bin", "scripts"} {
		if err := os.MkdirAll(filepath.Join(work, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(testBinary(t), filepath.Join(work, "bin", "exekra")); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("../../scripts/dev-run.sh")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "scripts", "dev-run.sh"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	env := append(os.Environ(), "HOME="+work, "XDG_CONFIG_HOME="+filepath.Join(work, "config"),
		fmt.Sprintf("EXEKRA_ADDR=127.0.0.1:%d", port))

	// start runs the script until it prints its banner and returns the
	// banner and a stop that sends Ctrl-C and returns the exit code.
	start := func() (string, func() int) {
		t.Helper()
		cmd := exec.Command("bash", "scripts/dev-run.sh")
		cmd.Dir = work
		cmd.Env = env
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		var out syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		stopped := false
		stop := func() int {
			if stopped {
				return 0
			}
			stopped = true
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
			select {
			case err := <-done:
				if ee, ok := err.(*exec.ExitError); ok {
					return ee.ExitCode()
				} else if err != nil {
					t.Fatal(err)
				}
				return 0
			case <-time.After(30 * time.Second):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				t.Fatalf("make run did not stop on Ctrl-C:\n%s", out.String())
				return -1
			}
		}
		t.Cleanup(func() { stop() })
		deadline := time.Now().Add(60 * time.Second)
		for !strings.Contains(out.String(), "Ctrl-C stops the server.") {
			select {
			case err := <-done:
				t.Fatalf("make run ended before it was ready (%v):\n%s", err, out.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("make run printed no banner within a minute:\n%s", out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		return out.String(), stop
	}

	banner, stop := start()
	password, err := os.ReadFile(filepath.Join(work, "data", "dev", "admin-password"))
	if err != nil {
		t.Fatalf("no data/dev/admin-password: %v\n%s", err, banner)
	}
	login := "Admin login: admin@example.com / " + strings.TrimSpace(string(password))
	if !strings.Contains(banner, login) || !strings.Contains(banner, fmt.Sprintf("https://localhost:%d", port)) {
		t.Fatalf("the banner lacks %q or the server's address:\n%s", login, banner)
	}
	// The commands the banner prints, run as printed (continuation lines
	// joined, the labels left out).
	lines := strings.Split(banner, "\n")
	var cmds []string
	for i, l := range lines {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "Log in:") && strings.HasSuffix(l, `\`) && i+1 < len(lines):
			cmds = append(cmds, strings.TrimSpace(strings.TrimPrefix(l, "Log in:"))+"\n"+strings.TrimSpace(lines[i+1]))
		case strings.HasPrefix(l, "Then:"):
			cmds = append(cmds, strings.TrimSpace(strings.TrimPrefix(l, "Then:")))
		case strings.HasPrefix(l, "Or with the client") && i+2 < len(lines):
			cmds = append(cmds, strings.TrimSpace(lines[i+1]), strings.TrimSpace(lines[i+2]))
		}
	}
	if len(cmds) != 4 {
		t.Fatalf("the banner's commands: %q\n%s", cmds, banner)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sh := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", strings.Join(cmds, "\necho\n")+"\n")
	sh.Dir = work
	sh.Env = env
	out, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("the banner's commands failed: %v\n%s\n%s", err, strings.Join(cmds, "\n"), out)
	}
	for _, want := range []string{`"email":"admin@example.com"`, "logged in to https://localhost:", "NAME"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the banner's commands print no %q:\n%s", want, out)
		}
	}
	if code := stop(); code != 0 {
		t.Fatalf("Ctrl-C: exit %d, want 0", code)
	}

	// Again on the same data dir: already set up, the same login.
	again, stop := start()
	if !strings.Contains(again, login) || strings.Contains(again, "has no license yet") {
		t.Fatalf("the second start:\n%s", again)
	}
	if code := stop(); code != 0 {
		t.Fatalf("Ctrl-C: exit %d, want 0", code)
	}
}
