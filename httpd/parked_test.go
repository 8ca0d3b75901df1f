package httpd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/exekra/orchestrator/messages"
)

// parkCore is the runner side of a core: a poll that waits is parked (its
// waiter goes to the test, which answers it when it likes); one that does
// not is answered at once with stops.
type parkCore struct {
	fuzzCore
	stops   []string
	waiters chan messages.PollWaiter
	askSlow atomic.Bool // the ask times out after parking (the actor was slow)
}

func (c *parkCore) AskTimeout(cmd any, _ time.Duration) (any, error) {
	pw, ok := cmd.(*messages.PollWork)
	if !ok {
		return nil, errors.New("unexpected command")
	}
	if pw.Waiter != nil && pw.Wait > 0 {
		c.waiters <- pw.Waiter
		if c.askSlow.Load() {
			return nil, errors.New("ask timed out")
		}
		return &messages.PollReply{Parked: true}, nil
	}
	return &messages.PollReply{StopExecutionIDs: c.stops}, nil
}

// parkServer is a served Server over a parkCore, with its access log.
type parkServer struct {
	s     *Server
	core  *parkCore
	addr  string
	token string
	tls   *tls.Config // the client's, when served over TLS
	logs  *lockedBuffer
	done  chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startParkServer(t *testing.T, overTLS bool, opts ...func(*Server)) *parkServer {
	t.Helper()
	logs := &lockedBuffer{}
	core := &parkCore{fuzzCore: fuzzCore{now: time.Now()}, stops: []string{"e-1"},
		waiters: make(chan messages.PollWaiter, 64)}
	s := New(Config{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		JWTSecret: []byte("0123456789abcdef0123456789abcdef")}, core, fuzzStore{})
	for _, o := range opts {
		o(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ps := &parkServer{s: s, core: core, addr: ln.Addr().String(), logs: logs, done: make(chan error, 1)}
	if overTLS {
		cert := selfSigned(t)
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		ps.tls = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the test's own certificate
	}
	go func() { ps.done <- s.Serve(ln) }()
	text, _, err := s.tokens.issue(kindRunner, "r-1", 0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ps.token = text
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return ps
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (ps *parkServer) dial(t *testing.T) (net.Conn, *bufio.Reader) {
	t.Helper()
	var c net.Conn
	var err error
	if ps.tls != nil {
		c, err = tls.Dial("tcp", ps.addr, ps.tls)
	} else {
		c, err = net.Dial("tcp", ps.addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, bufio.NewReader(c)
}

// pollRequest is a poll with a fixed request id (answers compare byte for
// byte); extra are more header lines.
func (ps *parkServer) pollRequest(wait int, proto string, extra ...string) string {
	return "GET /api/runners/poll?wait=" + strconv.Itoa(wait) + " " + proto + "\r\nHost: test\r\nX-Request-Id: same-id\r\n" +
		"Authorization: Bearer " + ps.token + "\r\n" + strings.Join(extra, "") + "\r\n"
}

// readAnswer reads one HTTP answer as raw bytes.
func readAnswer(t *testing.T, br *bufio.Reader) []byte {
	t.Helper()
	var raw bytes.Buffer
	length := -1
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the head: %v (so far %q)", err, raw.String())
		}
		raw.WriteString(line)
		if line == "\r\n" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Length") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if length < 0 {
		t.Fatalf("no Content-Length: %q", raw.String())
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(br, body); err != nil {
		t.Fatal(err)
	}
	raw.Write(body)
	return raw.Bytes()
}

// stable drops the Date header (the only one that may differ between two
// answers a second apart).
func stable(b []byte) string {
	var out []string
	for _, l := range strings.SplitAfter(string(b), "\r\n") {
		if !strings.HasPrefix(l, "Date: ") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

func (ps *parkServer) nextWaiter(t *testing.T) messages.PollWaiter {
	t.Helper()
	select {
	case w := <-ps.core.waiters:
		return w
	case <-time.After(10 * time.Second):
		t.Fatal("no poll parked")
		return nil
	}
}

// held waits until the parked poll holds its connection.
func held(t *testing.T, w messages.PollWaiter) {
	t.Helper()
	p := w.(*parkedPoll)
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.mu.Lock()
		st := p.state
		p.mu.Unlock()
		if st == parkHeld {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("poll not held (state %d)", st)
		}
		time.Sleep(time.Millisecond)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// The parked answer is the handler's answer, byte for byte but the Date,
// answered before or after the connection is handed over, on a connection
// that then serves the next request (kept alive), over TCP and TLS.
func TestParkedPollAnswersLikeTheHandler(t *testing.T) {
	for _, overTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", overTLS), func(t *testing.T) {
			ps := startParkServer(t, overTLS)
			c, br := ps.dial(t)
			reply := &messages.PollReply{StopExecutionIDs: []string{"e-1"}}
			write := func(s string) {
				if _, err := io.WriteString(c, s); err != nil {
					t.Fatal(err)
				}
			}
			write(ps.pollRequest(0, "HTTP/1.1"))
			direct := readAnswer(t, br)
			if !bytes.Contains(direct, []byte(`"stopExecutionIds":["e-1"]`)) || !bytes.Contains(direct, []byte("X-Request-Id: same-id\r\n")) {
				t.Fatalf("direct answer: %q", direct)
			}
			if overTLS != bytes.Contains(direct, []byte("Strict-Transport-Security")) {
				t.Fatalf("HSTS over TLS only: %q", direct)
			}

			// Answered once the connection is held.
			write(ps.pollRequest(30, "HTTP/1.1"))
			w := ps.nextWaiter(t)
			held(t, w)
			if ps.s.Parked() != 1 {
				t.Fatalf("parked %d", ps.s.Parked())
			}
			w.PollAnswered(reply)
			if got := readAnswer(t, br); stable(got) != stable(direct) {
				t.Fatalf("parked answer differs:\n%q\nwant\n%q", got, direct)
			}

			// Answered at once (before or while the connection is handed over).
			write(ps.pollRequest(30, "HTTP/1.1"))
			ps.nextWaiter(t).PollAnswered(reply)
			if got := readAnswer(t, br); stable(got) != stable(direct) {
				t.Fatalf("early answer differs:\n%q\nwant\n%q", got, direct)
			}

			// A second answer is dropped; the connection serves on.
			w.PollAnswered(reply)
			write(ps.pollRequest(0, "HTTP/1.1"))
			if got := readAnswer(t, br); stable(got) != stable(direct) {
				t.Fatalf("after the parked polls:\n%q", got)
			}
			waitFor(t, "nothing parked", func() bool { return ps.s.Parked() == 0 })

			// The access log has each poll once, with its status.
			if n := strings.Count(ps.logs.String(), "route=/api/runners/poll status=200"); n != 4 {
				t.Fatalf("%d poll lines in the access log, want 4:\n%s", n, ps.logs.String())
			}
		})
	}
}

// A request pipelined behind a parked poll is served after its answer.
func TestParkedPollPipelined(t *testing.T) {
	ps := startParkServer(t, false)
	c, br := ps.dial(t)
	if _, err := io.WriteString(c, ps.pollRequest(30, "HTTP/1.1")+ps.pollRequest(0, "HTTP/1.1")); err != nil {
		t.Fatal(err)
	}
	w := ps.nextWaiter(t)
	held(t, w)
	w.PollAnswered(&messages.PollReply{StopExecutionIDs: []string{}})
	first := readAnswer(t, br)
	second := readAnswer(t, br)
	if !bytes.Contains(first, []byte(`{"hasWork":false,"stopExecutionIds":[]}`)) ||
		!bytes.Contains(second, []byte(`"stopExecutionIds":["e-1"]`)) {
		t.Fatalf("pipelined answers:\n%q\n%q", first, second)
	}
	// And again, on the connection the first answer handed back.
	if _, err := io.WriteString(c, ps.pollRequest(30, "HTTP/1.1")+ps.pollRequest(0, "HTTP/1.1")); err != nil {
		t.Fatal(err)
	}
	w = ps.nextWaiter(t)
	held(t, w)
	w.PollAnswered(&messages.PollReply{StopExecutionIDs: []string{"e-2"}})
	if a, b := readAnswer(t, br), readAnswer(t, br); !bytes.Contains(a, []byte(`["e-2"]`)) || !bytes.Contains(b, []byte(`["e-1"]`)) {
		t.Fatalf("second round:\n%q\n%q", a, b)
	}
}

// HTTP/1.0 keep-alive and Connection: close are answered as the handler
// answers them.
func TestParkedPollConnectionHeaders(t *testing.T) {
	ps := startParkServer(t, false)
	reply := &messages.PollReply{StopExecutionIDs: []string{"e-1"}}
	for _, tc := range []struct {
		name, proto, extra string
		closes             bool
	}{
		{"1.0 keep-alive", "HTTP/1.0", "Connection: keep-alive\r\n", false},
		{"1.1 close", "HTTP/1.1", "Connection: close\r\n", true},
		{"1.0", "HTTP/1.0", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, br := ps.dial(t)
			_, _ = io.WriteString(c, ps.pollRequest(0, tc.proto, tc.extra))
			direct := readAnswer(t, br)
			if tc.closes {
				c, br = ps.dial(t)
			}
			_, _ = io.WriteString(c, ps.pollRequest(30, tc.proto, tc.extra))
			w := ps.nextWaiter(t)
			held(t, w)
			w.PollAnswered(reply)
			if got := readAnswer(t, br); stable(got) != stable(direct) {
				t.Fatalf("parked answer differs:\n%q\nwant\n%q", got, direct)
			}
			if tc.closes {
				if _, err := br.ReadByte(); err != io.EOF {
					t.Fatalf("connection still open after Connection: close (%v)", err)
				}
				return
			}
			_, _ = io.WriteString(c, ps.pollRequest(0, tc.proto, tc.extra))
			if got := readAnswer(t, br); stable(got) != stable(direct) {
				t.Fatalf("kept alive: %q", got)
			}
		})
	}
}

// A client gone while parked: the answer fails quietly, nothing stays
// parked or half-written.
func TestParkedPollClientGone(t *testing.T) {
	ps := startParkServer(t, false)
	c, _ := ps.dial(t)
	_, _ = io.WriteString(c, ps.pollRequest(30, "HTTP/1.1"))
	w := ps.nextWaiter(t)
	held(t, w)
	_ = c.Close()
	w.PollAnswered(&messages.PollReply{StopExecutionIDs: []string{}})
	waitFor(t, "the answer to end", func() bool {
		ps.s.parked.mu.Lock()
		defer ps.s.parked.mu.Unlock()
		return ps.s.parked.n == 0 && ps.s.parked.answering.Load() == 0 && len(ps.s.parked.resumed) == 0
	})
}

// An ask that timed out after the actor parked the poll: the handler
// answers, the actor's later answer is dropped.
func TestParkedPollAbandoned(t *testing.T) {
	ps := startParkServer(t, false)
	ps.core.askSlow.Store(true)
	c, br := ps.dial(t)
	_, _ = io.WriteString(c, ps.pollRequest(30, "HTTP/1.1"))
	w := ps.nextWaiter(t)
	if got := readAnswer(t, br); !bytes.Contains(got, []byte(`{"hasWork":false,"stopExecutionIds":[]}`)) {
		t.Fatalf("abandoned poll: %q", got)
	}
	w.PollAnswered(&messages.PollReply{StopExecutionIDs: []string{"late"}})
	ps.core.askSlow.Store(false)
	_, _ = io.WriteString(c, ps.pollRequest(0, "HTTP/1.1"))
	if got := readAnswer(t, br); !bytes.Contains(got, []byte(`["e-1"]`)) {
		t.Fatalf("next answer: %q", got)
	}
}

// The safety sweep answers a poll its actor never answered, with no work.
func TestParkedPollSwept(t *testing.T) {
	ps := startParkServer(t, false)
	c, br := ps.dial(t)
	_, _ = io.WriteString(c, ps.pollRequest(1, "HTTP/1.1"))
	w := ps.nextWaiter(t)
	held(t, w)
	ps.s.sweepParkedAt(time.Now()) // not due yet
	if ps.s.Parked() != 1 {
		t.Fatal("swept before its bound")
	}
	ps.s.sweepParkedAt(time.Now().Add(time.Second + pollMargin + time.Millisecond))
	if got := readAnswer(t, br); !bytes.Contains(got, []byte("HTTP/1.1 200 OK")) ||
		!bytes.Contains(got, []byte(`{"hasWork":false,"stopExecutionIds":[]}`)) {
		t.Fatalf("swept answer: %q", got)
	}
	if ps.s.Parked() != 0 || !strings.Contains(ps.logs.String(), "poll unanswered") {
		t.Fatal("the swept poll is still parked, or was not logged")
	}
}

// At shutdown the released polls are answered with Connection: close and
// their connections closed; polls nobody releases are closed when the
// shutdown's time is up.
func TestParkedPollsAtShutdown(t *testing.T) {
	ps := startParkServer(t, false)
	var readers []*bufio.Reader
	var waiters []messages.PollWaiter
	for range 3 {
		c, br := ps.dial(t)
		_, _ = io.WriteString(c, ps.pollRequest(30, "HTTP/1.1"))
		w := ps.nextWaiter(t)
		held(t, w)
		readers, waiters = append(readers, br), append(waiters, w)
	}
	done := make(chan error, 1)
	go func() { done <- ps.s.Shutdown(context.Background()) }()
	waitFor(t, "closing", ps.s.isClosing)
	for _, w := range waiters { // the core's release
		w.PollAnswered(&messages.PollReply{StopExecutionIDs: []string{}})
	}
	for _, br := range readers {
		if got := readAnswer(t, br); !bytes.Contains(got, []byte("Connection: close\r\n")) {
			t.Fatalf("answer at shutdown: %q", got)
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("connection open after the answer at shutdown (%v)", err)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown did not return")
	}

	// Nobody releases: closed when the time is up.
	ps = startParkServer(t, false)
	c2, br2 := ps.dial(t)
	_, _ = io.WriteString(c2, ps.pollRequest(30, "HTTP/1.1"))
	held(t, ps.nextWaiter(t))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := ps.s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := br2.ReadByte(); err != io.EOF {
		t.Fatalf("a parked poll's connection is open after the shutdown (%v)", err)
	}
}

// detachConn finds the bytes the hijacked connection's reader held, in
// order, including those left from an earlier aheadConn.
func TestDetachConnKeepsReadAheadBytes(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	prev := withAhead(a, []byte("GHI"))
	h := &fakeHijacked{Conn: prev, r: io.MultiReader(strings.NewReader("DEF"), prev)}
	raw, ahead := detachConn(h)
	if raw != a || string(ahead) != "DEFGHI" {
		t.Fatalf("raw %T, ahead %q", raw, ahead)
	}
	r2, none := detachConn(&fakeHijacked{Conn: a, r: a})
	if r2 != a || none != nil {
		t.Fatalf("nothing ahead: %T %q", r2, none)
	}
}

// fakeHijacked stands for fasthttp's hijacked connection: reads go through
// the server's reader r.
type fakeHijacked struct {
	net.Conn
	r io.Reader
}

func (f *fakeHijacked) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *fakeHijacked) UnsafeConn() net.Conn       { return f.Conn }

// A parked poll stays in its 192-byte size class (docs/performance.md).
func TestParkedPollSize(t *testing.T) {
	if n := unsafe.Sizeof(parkedPoll{}); n > 192 {
		t.Fatalf("parkedPoll is %d bytes", n)
	}
}

// A connection an answer hands back waits for its next request as long as
// a kept-alive connection does (IdleTimeout), not the first-request
// ReadTimeout fasthttp gives a connection it is handed.
func TestParkedPollKeepsTheIdleTimeout(t *testing.T) {
	ps := startParkServer(t, false, func(s *Server) {
		s.srv.ReadTimeout, s.srv.IdleTimeout = 300*time.Millisecond, 10*time.Second
	})
	c, br := ps.dial(t)
	_, _ = io.WriteString(c, ps.pollRequest(30, "HTTP/1.1"))
	w := ps.nextWaiter(t)
	held(t, w)
	w.PollAnswered(&messages.PollReply{StopExecutionIDs: []string{}})
	readAnswer(t, br)
	time.Sleep(3 * ps.s.srv.ReadTimeout) // idle on purpose: longer than ReadTimeout
	_, _ = io.WriteString(c, ps.pollRequest(0, "HTTP/1.1"))
	if got := readAnswer(t, br); !bytes.Contains(got, []byte(`["e-1"]`)) {
		t.Fatalf("after an idle gap: %q", got)
	}
}
