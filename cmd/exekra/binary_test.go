package main

import (
	"fmt"
	"net"
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

// TestBinaryGracefulShutdownOnSIGTERM: SIGTERM and SIGINT stop the server
// cleanly (exit 0, logged), with the database closed: another process
// opens it at once.
func TestBinaryGracefulShutdownOnSIGTERM(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			p := newServerProc(t)
			p.args = []string{"--log-level", "info"} // the clean stop is logged at info
			p.start()
			if err := p.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if err := p.waitExit(20 * time.Second); err != nil {
				t.Fatalf("exit: %v\n%s", err, p.stderr.String())
			}
			if !strings.Contains(p.stderr.String(), "stopped cleanly") {
				t.Fatalf("no clean stop logged:\n%s", p.stderr.String())
			}
			p.start()
			p.terminate()
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
	h.waitPollsParked(1)
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
