package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

// testBinary builds bin/exekra once per test run into a temp dir.
func testBinary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "exekra-bin")
		if err != nil {
			binaryErr = err
			return
		}
		binaryPath = filepath.Join(dir, "exekra")
		out, err := exec.Command("go", "build", "-o", binaryPath, ".").CombinedOutput()
		if err != nil {
			binaryErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

// freePort returns a free 127.0.0.1 port.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitHealthy polls /api/health until it answers or the deadline passes.
func waitHealthy(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/api/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server at %s never became healthy", base)
}

func TestBinaryGracefulShutdownOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := testBinary(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			port := freePort(t)
			cmd := exec.Command(bin, "serve", "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--data-dir", dir, "--insecure-http")
			stderr, _ := cmd.StderrPipe()
			cmd.Stdout = nil
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var logs strings.Builder
			done := make(chan struct{})
			go func() {
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					logs.WriteString(sc.Text() + "\n")
				}
				close(done)
			}()
			waitHealthy(t, fmt.Sprintf("http://127.0.0.1:%d", port))
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			// Read stderr to its end (the process exiting closes it) before
			// Wait, which closes the pipe.
			errc := make(chan error, 1)
			go func() { <-done; errc <- cmd.Wait() }()
			select {
			case err := <-errc:
				if err != nil {
					t.Fatalf("exit: %v\n%s", err, logs.String())
				}
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatal("server did not stop within 20 s")
			}
			if !strings.Contains(logs.String(), "stopped cleanly") {
				t.Fatalf("no clean stop logged:\n%s", logs.String())
			}
			// The database was closed: another process can open it at once.
			port2 := freePort(t)
			cmd2 := exec.Command(bin, "serve", "--addr", fmt.Sprintf("127.0.0.1:%d", port2), "--data-dir", dir, "--insecure-http")
			if err := cmd2.Start(); err != nil {
				t.Fatal(err)
			}
			waitHealthy(t, fmt.Sprintf("http://127.0.0.1:%d", port2))
			_ = cmd2.Process.Signal(syscall.SIGTERM)
			if err := cmd2.Wait(); err != nil {
				t.Fatalf("restart on the same data dir: %v", err)
			}
		})
	}
}

func TestBinaryBadFlagsExit2(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	out, err := exec.Command(testBinary(t), "serve", "--bogus").CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Fatalf("exit %v, output %q", err, out)
	}
}

// TestCloseAnswersParkedLongPolls: a graceful stop does not wait out a
// runner's 30-second long poll — it is answered "no work" and the server
// stops at once, with the in-flight request completed (200).
func TestCloseAnswersParkedLongPolls(t *testing.T) {
	h := newHarness(t)
	r := h.rnOnline("parked", "")
	done := make(chan *response, 1)
	go func() { done <- h.request(r.c, "GET", "/api/runners/poll?wait=30", nil) }()
	h.rnEventually("the poll to park", func() bool { return h.scrape()["exekra_long_polls_waiting"] == 1 })
	start := time.Now()
	h.stop()
	select {
	case resp := <-done:
		if resp.status != 200 || resp.json["hasWork"] != false {
			t.Fatalf("parked poll answered %d %s", resp.status, resp.body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the parked poll was not answered")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("graceful stop took %v with a parked long poll", d)
	}
}
