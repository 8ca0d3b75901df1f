package httpd

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// Stream timings (docs/api.md, "Live events").
const (
	// streamHeartbeat is how often an open stream gets a comment line,
	// so proxies keep an idle stream open.
	streamHeartbeat = 15 * time.Second
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
func streamFilterOf(ctx *fasthttp.RequestCtx) (messages.EventFilter, error) {
	var f messages.EventFilter
	if v := ctx.QueryArgs().Peek("types"); len(v) > 0 {
		f.Types = map[string]bool{}
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
// stream runs after the handler returns, on fasthttp's body-stream
// goroutine: it ends when the core closes the subscription (logout,
// disabled user, slow client), when the client goes away, or at shutdown.
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
	if r.claims != nil {
		tokenID = r.claims.ID
	}
	sub, err := src.SubscribeEvents(messages.SubscribeEvents{Filter: filter, Resume: resume, After: after,
		UserID: r.user.ID, TokenID: tokenID})
	if err != nil {
		return err
	}
	h := &ctx.Response.Header
	h.SetContentType("text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	// The server's write timeout (sized for long polls) would cut a stream
	// after 90 s: the stream moves the deadline before every flush (at
	// least every streamHeartbeat).
	// The stream goroutine must not touch ctx (fasthttp recycles it once
	// the connection gives up on the response); the connection itself is
	// safe to set deadlines on from there.
	done, conn := s.closing, ctx.Conn()
	s.streams.Add(1)
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer s.streams.Add(-1)
		defer src.UnsubscribeEvents(sub.ID)
		streamEvents(conn, w, sub, &filter, done)
	})
	return nil
}

// streamEvents writes the subscription's events to w until it ends.
func streamEvents(conn net.Conn, w *bufio.Writer, sub *messages.EventSubscription,
	filter *messages.EventFilter, done <-chan struct{}) {
	flush := func() bool {
		extendWriteDeadline(conn)
		return w.Flush() == nil
	}
	// The opening comment lets the client see the stream is up before the
	// first event (and EventSource's retry hint: 2 s).
	_, _ = w.WriteString(": connected\nretry: 2000\n\n")
	if !flush() {
		return
	}
	beat := time.NewTicker(streamHeartbeat)
	defer beat.Stop()
	for {
		select {
		case batch, ok := <-sub.Events:
			if !ok {
				_, _ = w.WriteString(": stream ended: " + sub.Reason() + "\n\n")
				_ = flush()
				return
			}
			writeBatch(w, batch, filter)
			// Take what else is waiting into the same flush.
		more:
			for {
				select {
				case b, ok := <-sub.Events:
					if !ok {
						_ = flush()
						return
					}
					writeBatch(w, b, filter)
				default:
					break more
				}
			}
			if !flush() {
				return
			}
		case <-beat.C:
			_, _ = w.WriteString(": keep-alive\n\n")
			if !flush() {
				return
			}
		case <-done:
			return
		}
	}
}

// writeBatch writes the frames of the batch's events that pass filter.
func writeBatch(w *bufio.Writer, batch []messages.StreamEvent, filter *messages.EventFilter) {
	for i := range batch {
		if filter.Match(batch[i].Event) {
			_, _ = w.Write(batch[i].Frame)
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
