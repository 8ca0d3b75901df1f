package main

import (
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBinarySIGTERMExitsWithinDeadline: a client that never finishes its
// request (it sent 10 of 100 body bytes and waits) does not hold the stop:
// SIGTERM exits 0 within 15 s, the database closed, and the log says what
// did not finish. (The stop used to wait out the 30 s read timeout.)
func TestBinarySIGTERMExitsWithinDeadline(t *testing.T) {
	p := newServerProc(t)
	p.args = []string{"--log-level", "info"} // the clean stop is logged at info
	p.start()
	addr := strings.TrimPrefix(p.base, "http://")
	for i := 0; i < 3; i++ {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":")
	}
	// A full request after them: once it is answered, the server has
	// accepted the stuck connections (it accepts in order).
	if st, _, err := p.callAs("", "GET", "/api/health", nil); err != nil || st != 200 {
		t.Fatalf("health beside the stuck requests: %d %v", st, err)
	}

	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.waitExit(20 * time.Second); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.stderr.String())
	}
	logs := p.stderr.String()
	if el := time.Since(start); el > shutdownDeadline {
		t.Fatalf("exited %v after SIGTERM, over %v:\n%s", el, shutdownDeadline, logs)
	}
	if !strings.Contains(logs, "in-flight requests did not finish in time") || !strings.Contains(logs, "stopped cleanly") {
		t.Fatalf("log:\n%s", logs)
	}
	// The database was closed: a new server opens it at once.
	p.start()
	p.terminate()
}
