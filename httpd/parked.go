package httpd

import (
	"bufio"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// Parked long polls (docs/performance.md, "Parked long polls").
//
// A long poll that finds no work used to hold its handler's goroutine (and
// with it fasthttp's request context and the reply slot of its Ask) for its
// whole wait: about 14 KiB each, 140 MiB for 10,000 runners. Now it parks
// without a goroutine:
//
//   - The handler asks the runner's actor with a parkedPoll as the poll's
//     messages.PollWaiter. The actor answers at once when it can; when the
//     poll must wait it answers a *messages.PollReply that says Parked and keeps the
//     parkedPoll (a plain struct, no future, no goroutine).
//   - The handler then hijacks the connection without a response
//     (Server.KeepHijackedConns keeps fasthttp from closing it) and returns;
//     the outer middleware notes what the answer will need of the request
//     (request id, subject, route, the headers set so far) instead of
//     logging it. fasthttp's hijack goroutine hands the connection to the
//     parkedPoll and ends.
//   - The actor's answer (work, a stop request, the wait's end, a shutdown
//     release) starts one short-lived goroutine that writes the complete
//     answer the handler would have written (same status, headers and
//     body; the access log and the request metrics record it then, once)
//     and hands the connection back to the server for its next request
//     (Server.ServeConn), or closes it when the request or the shutdown
//     asks so.
//
// A parked poll holds its connection, its parkedPoll and the actor's
// waiter; its safety bound (an actor that never answers, say after a
// restart lost its waiters) is one sweep a second over the parked list,
// not a timer per poll. A client that goes away while parked is noticed
// when the answer is written (as before): an execution assigned meanwhile
// stays ASSIGNED to the runner and its next poll gets it again.

// parkState is where a parked poll is.
type parkState uint8

const (
	parkAsking    parkState = iota // the handler is asking the runner's actor
	parkHijacking                  // parked; fasthttp has yet to hand the connection over
	parkHeld                       // parked; its connection is held here
	parkDone                       // answered, or given up
)

// hijackGrace is how long past its bound a parked poll waits for fasthttp
// to hand its connection over before it is forgotten (a hijack fasthttp
// skipped because the connection failed).
const hijackGrace = 5 * time.Second

// parkSweepEvery is the period of the safety sweep.
const parkSweepEvery = time.Second

// noWorkReply answers a parked poll that the sweep or a forced shutdown
// ends.
var noWorkReply = &messages.PollReply{StopExecutionIDs: []string{}}

// parkedPoll is one long poll parked without a goroutine (192 bytes: its
// fields are ordered and sized for that size class).
type parkedPoll struct {
	s        *Server
	runner   string
	deadline int64 // the safety bound (Unix ns): answered with no work after it

	mu    sync.Mutex
	state parkState
	// What the answer needs of the request, noted by the outer middleware
	// (the request context is gone by the time the answer is written).
	post       bool // POST, else GET (the poll's two routes)
	closeAfter bool // the request asked to close the connection
	http10     bool // an HTTP/1.0 request that keeps the connection alive
	reply      *messages.PollReply
	// conn is the connection once handed over (an aheadConn when the
	// server had read past the poll: a pipelined request).
	conn    net.Conn
	start   time.Time
	route   string
	reqID   string
	subject string
	head    []string // headers set before the poll parked but X-Request-Id: name, value, ...

	prev, next *parkedPoll // in the server's parked list
}

// parkedPolls is a server's parked polls: an intrusive list (O(1) in and
// out, no per-poll allocation beyond the parkedPoll), the answers being
// written, and the connections handed back to the server.
type parkedPolls struct {
	mu   sync.Mutex
	head *parkedPoll
	n    int
	// answering counts the goroutines writing an answer.
	answering atomic.Int64
	// resumed are the connections handed back (Server.ServeConn) by an
	// answer: a shutdown closes those fasthttp's own shutdown did not see.
	resumed   map[net.Conn]struct{}
	sweepOnce sync.Once
}

func (l *parkedPolls) add(p *parkedPoll) {
	l.mu.Lock()
	p.prev, p.next = nil, l.head
	if l.head != nil {
		l.head.prev = p
	}
	l.head = p
	l.n++
	l.mu.Unlock()
}

// remove takes p out of the list (no-op when it is not in it).
func (l *parkedPolls) remove(p *parkedPoll) {
	l.mu.Lock()
	l.removeLocked(p)
	l.mu.Unlock()
}

func (l *parkedPolls) removeLocked(p *parkedPoll) {
	if p.prev == nil && l.head != p {
		return
	}
	if p.prev != nil {
		p.prev.next = p.next
	} else {
		l.head = p.next
	}
	if p.next != nil {
		p.next.prev = p.prev
	}
	p.prev, p.next = nil, nil
	l.n--
}

// Parked is the number of long polls parked now.
func (s *Server) Parked() int {
	s.parked.mu.Lock()
	defer s.parked.mu.Unlock()
	return s.parked.n
}

// newParkedPoll prepares the waiter of a poll that may park: only on a
// served connection (an in-process handler call has none to hand over).
func (s *Server) newParkedPoll(ctx *fasthttp.RequestCtx, runner string, wait time.Duration) *parkedPoll {
	if wait <= 0 || !s.serving.Load() || ctx.Conn() == nil {
		return nil
	}
	return &parkedPoll{s: s, runner: runner, deadline: time.Now().Add(wait + pollMargin).UnixNano()}
}

// PollAnswered implements messages.PollWaiter: the runner's actor answers.
func (p *parkedPoll) PollAnswered(reply *messages.PollReply) { p.deliver(reply) }

// deliver takes the poll's answer (the first one wins). When the
// connection is held, a goroutine writes it; before that, the hand-over
// does.
func (p *parkedPoll) deliver(reply *messages.PollReply) {
	p.mu.Lock()
	if p.state == parkDone || p.reply != nil {
		p.mu.Unlock()
		return
	}
	p.reply = reply
	held := p.state == parkHeld
	if held {
		p.state = parkDone
	}
	p.mu.Unlock()
	if held {
		p.s.parked.remove(p)
		p.s.parked.answering.Add(1)
		go p.answer()
	}
}

// abandon ends a poll the handler answered itself (the actor did not park
// it, or did not answer in time): a later answer is dropped.
func (p *parkedPoll) abandon() {
	p.mu.Lock()
	p.state = parkDone
	p.mu.Unlock()
}

// park parks the poll: the connection is hijacked without a response once
// the handler returns.
func (s *Server) park(ctx *fasthttp.RequestCtx, p *parkedPoll) {
	s.parked.sweepOnce.Do(func() { go s.sweepParked() })
	p.mu.Lock()
	p.state = parkHijacking
	p.mu.Unlock()
	s.parked.add(p)
	ctx.SetUserValue(keyParked, p)
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(p.handOver)
}

// parkedOf is the poll the request parked (nil when none).
func parkedOf(ctx *fasthttp.RequestCtx) *parkedPoll {
	p, _ := ctx.UserValue(keyParked).(*parkedPoll)
	if p == nil || !ctx.Hijacked() {
		return nil
	}
	return p
}

// note records what the answer will need of the request; the outer
// middleware calls it in place of its own ending (headers, log, metrics),
// which the answer runs.
func (p *parkedPoll) note(ctx *fasthttp.RequestCtx, start time.Time) {
	p.start = start
	p.post = ctx.IsPost()
	p.route = routeOf(ctx)
	p.reqID = requestID(ctx)
	p.subject, _ = ctx.UserValue(keySubject).(string)
	p.closeAfter = ctx.Request.Header.ConnectionClose()
	p.http10 = !ctx.Request.Header.IsHTTP11()
	for k, v := range ctx.Response.Header.All() {
		if !answerSetsHeader(k) {
			p.head = append(p.head, string(k), string(v))
		}
	}
}

// answerSetsHeader reports the response headers the answer sets itself
// (framing, the request id, and what the outer middleware adds at the end).
func answerSetsHeader(k []byte) bool {
	switch string(k) {
	case "X-Request-Id", fasthttp.HeaderContentLength, fasthttp.HeaderContentType, fasthttp.HeaderContentEncoding,
		fasthttp.HeaderServer, fasthttp.HeaderDate, fasthttp.HeaderConnection, fasthttp.HeaderTransferEncoding,
		"X-Content-Type-Options", "Strict-Transport-Security", "X-License-Warning":
		return true
	}
	return false
}

// handOver is the hijack handler: fasthttp hands the connection over in a
// goroutine of its own, which ends here unless the answer is already in.
func (p *parkedPoll) handOver(c net.Conn) {
	conn, ahead := detachConn(c)
	if len(ahead) > 0 {
		conn = withAhead(conn, ahead)
	}
	p.mu.Lock()
	if p.state == parkDone {
		p.mu.Unlock()
		_ = conn.Close() // forgotten meanwhile (a forced shutdown)
		return
	}
	p.conn = conn
	if p.reply == nil {
		p.state = parkHeld
		p.mu.Unlock()
		return
	}
	p.state = parkDone
	p.mu.Unlock()
	p.s.parked.remove(p)
	p.s.parked.answering.Add(1)
	p.answer()
}

// answer writes the poll's answer, then serves the connection's next
// requests (or closes it). It runs in a goroutine of its own.
func (p *parkedPoll) answer() {
	s, conn := p.s, p.conn
	l := &s.parked
	l.mu.Lock()
	closing := s.isClosing()
	served := conn
	if !closing && !p.closeAfter {
		served = resumed(conn, s.srv.IdleTimeout)
		if l.resumed == nil {
			l.resumed = map[net.Conn]struct{}{}
		}
		l.resumed[served] = struct{}{}
	}
	l.mu.Unlock()
	keep := !closing && !p.closeAfter
	ok := s.writeParked(p, !keep)
	l.answering.Add(-1)
	if !ok || !keep {
		_ = conn.Close()
		if keep {
			l.mu.Lock()
			delete(l.resumed, served)
			l.mu.Unlock()
		}
		return
	}
	_ = s.srv.ServeConn(served)
	l.mu.Lock()
	delete(l.resumed, served)
	l.mu.Unlock()
}

// answerCtxs are the request contexts answers are built in.
var answerCtxs = sync.Pool{New: func() any { return new(fasthttp.RequestCtx) }}

// answerWriters are the buffered writers answers are written through.
var answerWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}

// writeParked writes the answer of p to its connection, built exactly as
// the handler and the outer middleware build a poll's answer; closeConn
// asks the client to close the connection. It reports whether the write
// succeeded.
func (s *Server) writeParked(p *parkedPoll, closeConn bool) (ok bool) {
	ctx := answerCtxs.Get().(*fasthttp.RequestCtx)
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("panic answering a parked poll", "requestId", p.reqID, "panic", v)
			ok = false
		}
		ctx.ResetUserValues()
		ctx.Request.Reset()
		ctx.Response.Reset()
		answerCtxs.Put(ctx)
	}()
	s.buildParkedAnswer(ctx, p, closeConn)
	bw := answerWriters.Get().(*bufio.Writer)
	bw.Reset(p.conn)
	if s.srv.WriteTimeout > 0 {
		_ = p.conn.SetWriteDeadline(time.Now().Add(s.srv.WriteTimeout))
	}
	err := ctx.Response.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	bw.Reset(nil)
	answerWriters.Put(bw)
	if err != nil {
		return false
	}
	return p.conn.SetWriteDeadline(time.Time{}) == nil
}

// buildParkedAnswer fills ctx.Response with the poll's answer.
func (s *Server) buildParkedAnswer(ctx *fasthttp.RequestCtx, p *parkedPoll, closeConn bool) {
	ctx.Init2(p.conn, fasthttpLogger{s.log}, true)
	if p.post {
		ctx.Request.Header.SetMethod(fasthttp.MethodPost)
	}
	ctx.SetUserValue(keyRequestID, p.reqID)
	if p.subject != "" {
		ctx.SetUserValue(keySubject, p.subject)
	}
	ctx.SetUserValue(router.MatchedRoutePathParam, p.route)
	h := &ctx.Response.Header
	if s.srv.Name != "" {
		h.SetServer(s.srv.Name)
	}
	h.Set("X-Request-Id", p.reqID) // the outer middleware's first header
	for i := 0; i+1 < len(p.head); i += 2 {
		h.Set(p.head[i], p.head[i+1])
	}
	if err := s.writePollReply(ctx, &request{ctx: ctx, runner: p.runner}, p.runner, p.reply); err != nil {
		ctx.Response.ResetBody()
		s.writeError(ctx, err)
	}
	s.endRequest(ctx, p.start)
	switch {
	case closeConn:
		h.SetConnectionClose()
	case p.http10:
		h.Set(fasthttp.HeaderConnection, "keep-alive")
	}
}

// sweepParked answers, once a second, the parked polls past their bound
// with no work, until the server shuts down.
func (s *Server) sweepParked() {
	t := time.NewTicker(parkSweepEvery)
	defer t.Stop()
	for {
		select {
		case <-s.closing:
			return
		case now := <-t.C:
			s.sweepParkedAt(now)
		}
	}
}

// sweepParkedAt ends the polls parked past their bound at now.
func (s *Server) sweepParkedAt(now time.Time) {
	var due []*parkedPoll
	l := &s.parked
	l.mu.Lock()
	for p := l.head; p != nil; p = p.next {
		if now.UnixNano() > p.deadline {
			due = append(due, p)
		}
	}
	l.mu.Unlock()
	for _, p := range due {
		p.mu.Lock()
		state := p.state
		forget := state == parkHijacking && now.UnixNano() > p.deadline+int64(hijackGrace)
		if forget {
			p.state = parkDone
		}
		p.mu.Unlock()
		switch {
		case forget:
			l.remove(p)
		case state == parkHeld:
			s.log.Warn("poll unanswered", "runner", p.runner)
			p.deliver(noWorkReply)
		}
	}
}

// releaseParked waits, after the server stopped serving, until every
// parked poll has been answered (the core's release answers them: see
// Core's shutdown hook) and closes the connections an answer handed back
// too late for fasthttp's shutdown to see. When ctx ends first, the polls
// still parked have their connections closed.
func (s *Server) releaseParked(ctx interface {
	Done() <-chan struct{}
	Err() error
}) error {
	l := &s.parked
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		l.mu.Lock()
		busy := l.n > 0 || l.answering.Load() > 0
		if !busy {
			for c := range l.resumed {
				_ = c.Close()
			}
			busy = len(l.resumed) > 0
		}
		l.mu.Unlock()
		if !busy {
			return nil
		}
		select {
		case <-ctx.Done():
			s.forgetParked()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// forgetParked closes the connections of the polls still parked.
func (s *Server) forgetParked() {
	l := &s.parked
	l.mu.Lock()
	var all []*parkedPoll
	for p := l.head; p != nil; p = p.next {
		all = append(all, p)
	}
	for _, p := range all {
		l.removeLocked(p)
	}
	for c := range l.resumed {
		_ = c.Close()
	}
	l.mu.Unlock()
	for _, p := range all {
		p.mu.Lock()
		conn := p.conn
		p.state = parkDone
		p.mu.Unlock()
		if conn != nil {
			_ = conn.Close()
		}
	}
}

// isClosing reports whether Shutdown has begun.
func (s *Server) isClosing() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// detachConn unwraps the connection fasthttp handed over to the one it
// served (a net.Conn, a *tls.Conn, or the aheadConn of an earlier answer)
// and collects the bytes read past the poll (a pipelined request): a read
// with a deadline already passed returns what the hijacked connection's
// reader holds and nothing from the network.
func detachConn(c net.Conn) (net.Conn, []byte) {
	u, ok := c.(interface{ UnsafeConn() net.Conn })
	if !ok {
		return c, nil
	}
	raw := u.UnsafeConn()
	var ahead []byte
	if c.SetReadDeadline(time.Unix(1, 0)) == nil {
		buf := aheadBufs.Get().(*[]byte)
		for {
			n, err := c.Read(*buf)
			ahead = append(ahead, (*buf)[:n]...)
			if err != nil || n == 0 {
				break
			}
		}
		aheadBufs.Put(buf)
	}
	if a, ok := raw.(aheadOf); ok {
		var rest []byte
		raw, rest = a.unwrap() // drained by the reads above, unless they failed
		ahead = append(ahead, rest...)
	}
	_ = raw.SetReadDeadline(time.Time{})
	if len(ahead) == 0 {
		ahead = nil
	}
	return raw, ahead
}

var aheadBufs = sync.Pool{New: func() any { b := make([]byte, 2<<10); return &b }}

// aheadOf is an aheadConn of either kind.
type aheadOf interface {
	unwrap() (net.Conn, []byte)
	resume(idle time.Duration)
}

// aheadConn is a connection handed back to the server by an answer. It
// serves the bytes read ahead (a pipelined request) before reading its
// connection, and until the next request's first byte arrives it turns the
// server's read deadline (ReadTimeout, which fasthttp applies to the first
// request of a connection it is given) into the idle timeout a kept-alive
// connection gets.
type aheadConn struct {
	net.Conn
	mu      sync.Mutex
	ahead   []byte
	idle    time.Duration
	started bool // a byte was read since resume
}

func (c *aheadConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	if len(c.ahead) > 0 {
		n := copy(b, c.ahead)
		c.ahead = c.ahead[n:]
		c.started = true
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.mu.Lock()
		c.started = true
		c.mu.Unlock()
	}
	return n, err
}

func (c *aheadConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	waiting := !c.started && c.idle > 0
	c.mu.Unlock()
	if now := time.Now(); waiting && t.After(now) {
		t = now.Add(c.idle)
	}
	return c.Conn.SetReadDeadline(t)
}

// resume starts the wait for the next request (idle: the server's idle
// timeout).
func (c *aheadConn) resume(idle time.Duration) {
	c.mu.Lock()
	c.idle, c.started = idle, false
	c.mu.Unlock()
}

func (c *aheadConn) unwrap() (net.Conn, []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rest := c.ahead
	c.ahead = nil
	return c.Conn, rest
}

// aheadTLSConn is an aheadConn over TLS: fasthttp and the handlers still
// see a TLS connection (HSTS, the handshake check).
type aheadTLSConn struct {
	*aheadConn
	tc *tls.Conn
}

func (c aheadTLSConn) Handshake() error                     { return c.tc.Handshake() }
func (c aheadTLSConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// withAhead wraps conn so that ahead is read first.
func withAhead(conn net.Conn, ahead []byte) net.Conn {
	a := &aheadConn{Conn: conn, ahead: ahead}
	if tc, ok := conn.(*tls.Conn); ok {
		return aheadTLSConn{aheadConn: a, tc: tc}
	}
	return a
}

// resumed is conn as handed back to the server: an aheadConn waiting for
// the next request for up to idle.
func resumed(conn net.Conn, idle time.Duration) net.Conn {
	a, ok := conn.(aheadOf)
	if !ok {
		conn = withAhead(conn, nil)
		a = conn.(aheadOf)
	}
	a.resume(idle)
	return conn
}
