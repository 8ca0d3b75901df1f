package main

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// End-to-end tests of long polls parked without a goroutine
// (httpd/parked.go, docs/performance.md "Parked long polls"): answered by
// work, by their wait's end, over TLS, with the client gone and at
// shutdown, on raw connections so that the answers compare byte for byte
// with the answers the handler writes itself.

// pkConn is a runner's raw keep-alive connection.
type pkConn struct {
	t     *testing.T
	c     net.Conn
	br    *bufio.Reader
	token string
}

func (h *harness) pkDial(t *testing.T, rr *rnRunner, overTLS bool) *pkConn {
	t.Helper()
	addr := h.m.Addr().String()
	var c net.Conn
	var err error
	if overTLS {
		c, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the test server's own certificate
	} else {
		c, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	return &pkConn{t: t, c: c, br: bufio.NewReader(c), token: rr.c.token}
}

// poll sends a poll with a fixed request id.
func (p *pkConn) poll(wait int) {
	p.t.Helper()
	req := "GET /api/runners/poll?wait=" + strconv.Itoa(wait) + " HTTP/1.1\r\nHost: e2e\r\nX-Request-Id: pk-1\r\n" +
		"Authorization: Bearer " + p.token + "\r\n\r\n"
	if _, err := io.WriteString(p.c, req); err != nil {
		p.t.Fatal(err)
	}
}

// answer reads one answer: its raw bytes without the Date header, and its
// JSON body.
func (p *pkConn) answer() (string, map[string]any) {
	p.t.Helper()
	var head strings.Builder
	length := -1
	for {
		line, err := p.br.ReadString('\n')
		if err != nil {
			p.t.Fatalf("reading an answer: %v (so far %q)", err, head.String())
		}
		if !strings.HasPrefix(line, "Date: ") {
			head.WriteString(line)
		}
		if line == "\r\n" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Length") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	body := make([]byte, max(length, 0))
	if _, err := io.ReadFull(p.br, body); err != nil {
		p.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		p.t.Fatalf("answer body %q: %v", body, err)
	}
	return head.String() + string(body), m
}

// pkParked waits until n polls are parked.
func (h *harness) pkParked(n int) {
	h.t.Helper()
	h.rnEventually("parked polls", func() bool { return h.m.http.Parked() == n })
}

var pollCount = regexp.MustCompile(`exekra_http_requests_total\{method="GET",route="/api/runners/poll",status="200"\} (\d+)`)

// pkPollsCounted reads the poll counter of GET /metrics.
func (h *harness) pkPollsCounted() int {
	h.t.Helper()
	r := h.expect(anon, "GET", "/metrics", nil, 200)
	m := pollCount.FindSubmatch(r.body)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

func TestE2EParkedPolls(t *testing.T) {
	testParkedPolls(t, false)
}

func TestE2EParkedPollsOverTLS(t *testing.T) {
	testParkedPolls(t, true)
}

func testParkedPolls(t *testing.T, overTLS bool) {
	var h *harness
	if overTLS {
		h = newUnactivatedHarness(t, func(c *Config) { c.InsecureHTTP = false })
		h.base = strings.Replace(h.base, "http://", "https://", 1)
		h.http.Transport = insecureTransport()
		h.activate(h.issueLicense(licenseOpts{}))
		h.admin = h.bootstrap(adminEmail, adminPassword)
	} else {
		h = newHarness(t)
	}
	wf := h.publishedWorkflow(h.admin, "parked")
	rr := h.rnOnline("parked-1", "")
	p := h.pkDial(t, rr, overTLS)

	// By its wait's end: the same answer as the idle poll's.
	p.poll(0)
	idle, _ := p.answer()
	if overTLS != strings.Contains(idle, "Strict-Transport-Security: ") {
		t.Fatalf("HSTS over TLS only: %q", idle)
	}
	counted := h.pkPollsCounted()
	p.poll(1)
	h.pkParked(1)
	if got, _ := p.answer(); got != idle {
		t.Fatalf("answer at the wait's end:\n%q\nwant\n%q", got, idle)
	}
	if n := h.pkPollsCounted(); n != counted+1 {
		t.Fatalf("the parked poll was counted %d times", n-counted)
	}

	// By work, on the same (kept-alive) connection: the same answer as the
	// repeated poll that hands the assignment over again.
	p.poll(30)
	h.pkParked(1)
	id := h.rnQueue(wf)
	work, ans := p.answer()
	if ans["hasWork"] != true || dig(ans, "execution.id") != id {
		t.Fatalf("parked poll answered by work: %s", work)
	}
	p.poll(0)
	if again, _ := p.answer(); again != work {
		t.Fatalf("answer by work:\n%q\nrepeated poll:\n%q", work, again)
	}
	if h.m.http.Parked() != 0 {
		t.Fatalf("%d polls still parked", h.m.http.Parked())
	}

	// The client goes away while parked: the assignment is not lost, the
	// runner's next poll gets it.
	rr2 := h.rnOnline("parked-2", "")
	gone := h.pkDial(t, rr2, overTLS)
	gone.poll(30)
	h.pkParked(1)
	_ = gone.c.Close()
	id2 := h.rnQueue(wf)
	h.rnEventually("the assignment", func() bool {
		e := h.expect(h.admin, "GET", "/api/executions/"+id2, nil, 200)
		return e.str("execution.status") == "ASSIGNED" && e.str("execution.runnerId") == rr2.id
	})
	h.pkParked(0)
	again := h.expect(rr2.c, "GET", "/api/runners/poll", nil, 200)
	if again.json["hasWork"] != true || again.str("execution.id") != id2 {
		t.Fatalf("the poll after the client went away: %s", again.body)
	}

	// At shutdown: answered (no work, Connection: close) at once, and the
	// server stops well within its deadline.
	rr3 := h.rnOnline("parked-3", "")
	last := h.pkDial(t, rr3, overTLS)
	last.poll(60)
	h.pkParked(1)
	start := time.Now()
	stopped := make(chan struct{})
	go func() { h.stop(); close(stopped) }()
	got, ans := last.answer()
	if ans["hasWork"] != false || !strings.Contains(got, "Connection: close\r\n") {
		t.Fatalf("answer at shutdown: %q", got)
	}
	if _, err := last.br.ReadByte(); err != io.EOF {
		t.Fatalf("connection open after the answer at shutdown (%v)", err)
	}
	select {
	case <-stopped:
	case <-time.After(15 * time.Second):
		t.Fatal("shutdown with a parked poll took over 15 s")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("shutdown with a parked poll took %v", d)
	}
}
