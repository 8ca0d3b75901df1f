package httpd

import (
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// Stream timings (docs/api.md, "Live events").
const (
	// streamHeartbeat is how often an open stream gets a comment line,
	// so proxies keep an idle stream open. The promise is "at least every
	// 15 s": a ticker of exactly 15 s writes a little later than that
	// (the timer fires, then the write), so it keeps a margin.
	streamHeartbeat = 10 * time.Second
	// streamWriteTimeout bounds each write to a stream's client: a client
	// that reads nothing for this long is cut off (its buffered events
	// were dropped long before: it resumes with Last-Event-ID).
	streamWriteTimeout = 30 * time.Second
)

// EventSource is what the events endpoint needs from the core: live
// streams of domain events.
type EventSource interface {
	// SubscribeEvents opens a stream; its channel is closed when the
	// stream must end.
	SubscribeEvents(req messages.SubscribeEvents) (*messages.EventSubscription, error)
	// UnsubscribeEvents forgets a stream whose client left.
	UnsubscribeEvents(id uint64)
}

// streamFilterOf reads ?types= and ?executionId= (400 on unknown types).
// types=a&types=b is read as types=a,b (as ?label= is on runners).
func streamFilterOf(ctx *fasthttp.RequestCtx) (messages.EventFilter, error) {
	var f messages.EventFilter
	for _, v := range ctx.QueryArgs().PeekMulti("types") {
		if f.Types == nil {
			f.Types = map[string]bool{}
		}
		for _, t := range strings.Split(string(v), ",") {
			t = strings.TrimSpace(t)
			if t == "" {
				continue
			}
			known := false
			for _, k := range messages.EventTypes {
				known = known || k == t
			}
			if !known {
				return f, messages.Invalid("types: unknown event type %q (known: %s)", t, strings.Join(messages.EventTypes, ", "))
			}
			f.Types[t] = true
		}
	}
	if v := ctx.QueryArgs().Peek("executionId"); len(v) > 0 {
		if len(v) > 64 {
			return f, messages.Invalid("executionId is too long")
		}
		f.ExecutionID = string(v)
	}
	return f, nil
}

// resumePointOf reads Last-Event-ID (header, else ?lastEventId=).
func resumePointOf(ctx *fasthttp.RequestCtx) (after uint64, resume bool, err error) {
	v := ctx.Request.Header.Peek("Last-Event-ID")
	if len(v) == 0 {
		v = ctx.QueryArgs().Peek("lastEventId")
	}
	if len(v) == 0 {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(v)), 10, 64)
	if err != nil {
		return 0, false, messages.Invalid("Last-Event-ID must be an event id (a non-negative integer)")
	}
	return n, true, nil
}

// events streams domain events as text/event-stream (any user). The
// stream runs after the handler returns, on the connection fasthttp hands
// over (a hijack): it ends when the core closes the subscription (logout,
// disabled user, slow client), when the client goes away (a failed write),
// or at shutdown; the connection is then closed.
func (s *Server) events(ctx *fasthttp.RequestCtx, r *request) error {
	src := s.core
	filter, err := streamFilterOf(ctx)
	if err != nil {
		return err
	}
	after, resume, err := resumePointOf(ctx)
	if err != nil {
		return err
	}
	tokenID := ""
	switch {
	case r.apiKey != nil:
		tokenID = r.apiKey.ID // a revoked key ends its streams
	case r.claims != nil:
		tokenID = r.claims.ID
	}
	sub, err := src.SubscribeEvents(messages.SubscribeEvents{Filter: filter, Resume: resume, After: after,
		UserID: r.user.ID, TokenID: tokenID})
	if err != nil {
		return err
	}
	h := &ctx.Response.Header
	h.SetContentType("text/event-stream") // always UTF-8 (the format says so): no parameter
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	// The body lasts until the connection closes (no length, no chunks).
	h.SetContentLength(-2)
	// fasthttp hands the connection over once the handler and the
	// middleware are done (a hijack): the stream writes the head they set
	// and then the events, straight to the connection, one write per
	// flush, without a second goroutine or a per-stream copy buffer.
	ctx.HijackSetNoResponse(true)
	done, raw := s.closing, ctx.Conn()
	s.streams.Add(1)
	ctx.Hijack(func(hijacked net.Conn) {
		// Writes go to the connection itself (the hijack's wrapper would
		// hide it from writev); nothing is read from it.
		conn := raw
		if conn == nil {
			conn = hijacked
		}
		defer s.streams.Add(-1)
		defer src.UnsubscribeEvents(sub.ID)
		// The server keeps hijacked connections open (KeepHijackedConns,
		// for parked polls): a stream closes its own when it ends.
		defer hijacked.Close()
		// ctx stays ours until this function returns (fasthttp releases
		// it afterwards); the head is complete by now.
		head := ctx.Response.Header.Header()
		extendWriteDeadline(conn)
		if _, err := conn.Write(head); err != nil {
			return
		}
		if streamEvents(conn, sub, &filter, done) {
			s.streamsCutOff.Add(1)
		}
	})
	return nil
}

// streamFlushEvery is the shortest gap between two writes to a stream:
// events arriving meanwhile go out together (a busy server then costs a
// few writes a second per stream instead of one per commit).
const streamFlushEvery = 100 * time.Millisecond

// streamFlushBytes is what a stream gathers at most before it writes.
const streamFlushBytes = 32 << 10

// frameBufs are the buffers TLS streams gather frames in between writes;
// an idle stream holds none.
var frameBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// streamOut gathers a stream's frames between writes. On a plain TCP
// connection it keeps references to the shared frames and writes them with
// one writev (no copy per stream); over TLS it copies them into a pooled
// buffer (one record per write).
type streamOut struct {
	conn   net.Conn
	vector bool
	frames net.Buffers
	size   int
	buf    *[]byte
	err    error // the first failed write's error
}

func newStreamOut(conn net.Conn) *streamOut {
	_, tcp := conn.(*net.TCPConn)
	return &streamOut{conn: conn, vector: tcp}
}

// add gathers the frames of the batch's events that pass filter.
func (o *streamOut) add(batch []messages.StreamEvent, filter *messages.EventFilter) {
	for i := range batch {
		if !filter.Match(batch[i].Event) {
			continue
		}
		f := batch[i].Frame
		o.size += len(f)
		if o.vector {
			o.frames = append(o.frames, f)
			continue
		}
		if o.buf == nil {
			o.buf = frameBufs.Get().(*[]byte)
		}
		*o.buf = append(*o.buf, f...)
	}
}

// write writes b at once (comments).
func (o *streamOut) write(b []byte) bool {
	extendWriteDeadline(o.conn)
	_, err := o.conn.Write(b)
	if err != nil && o.err == nil {
		o.err = err
	}
	return err == nil
}

// flush writes what was gathered.
func (o *streamOut) flush() bool {
	if o.size == 0 {
		return true
	}
	extendWriteDeadline(o.conn)
	var err error
	if o.vector {
		bufs := o.frames
		_, err = bufs.WriteTo(o.conn)
		clear(o.frames)
		o.frames = o.frames[:0]
	} else {
		_, err = o.conn.Write(*o.buf)
		*o.buf = (*o.buf)[:0]
		if cap(*o.buf) <= 2*streamFlushBytes {
			frameBufs.Put(o.buf)
		}
		o.buf = nil
	}
	o.size = 0
	if err != nil && o.err == nil {
		o.err = err
	}
	return err == nil
}

// streamEvents writes the subscription's events to conn until it ends. It
// reports whether it ended because a write timed out (a stalled client).
func streamEvents(conn net.Conn, sub *messages.EventSubscription, filter *messages.EventFilter, done <-chan struct{}) (timedOut bool) {
	out := newStreamOut(conn)
	defer func() { timedOut = errors.Is(out.err, os.ErrDeadlineExceeded) }()
	write, flush := out.write, out.flush
	defer flush()
	// The opening comment lets the client see the stream is up before the
	// first event, with EventSource's retry hint (2 s).
	if !write([]byte(": connected\nretry: 2000\n\n")) {
		return
	}
	beat := time.NewTicker(streamHeartbeat)
	defer beat.Stop()
	var due *time.Timer
	var dueC <-chan time.Time
	lastWrite := time.Now()
	for {
		select {
		case batch, ok := <-sub.Events:
			if !ok {
				if flush() {
					_ = write([]byte(": stream ended: " + sub.Reason() + "\n\n"))
				}
				return
			}
			out.add(batch, filter)
			if out.size >= streamFlushBytes {
				// Enough for one write: no need to wait (and to grow).
				if !flush() {
					return
				}
				lastWrite = time.Now()
				continue
			}
			if dueC != nil {
				continue // a write is already scheduled
			}
			if wait := streamFlushEvery - time.Since(lastWrite); wait > 0 {
				if due == nil {
					due = time.NewTimer(wait)
				} else {
					due.Reset(wait)
				}
				dueC = due.C
				continue
			}
			if !flush() {
				return
			}
			lastWrite = time.Now()
		case <-dueC:
			dueC = nil
			if !flush() {
				return
			}
			lastWrite = time.Now()
		case <-beat.C:
			if !flush() || !write([]byte(": keep-alive\n\n")) {
				return
			}
			lastWrite = time.Now()
		case <-done:
			return
		}
	}
}

// extendWriteDeadline gives the next writes to conn streamWriteTimeout.
// In-process tests serve requests without a connection (fasthttp's stand-in
// has none to set a deadline on): that is not an error.
func extendWriteDeadline(conn net.Conn) {
	if conn == nil {
		return
	}
	defer func() { _ = recover() }()
	_ = conn.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
}
