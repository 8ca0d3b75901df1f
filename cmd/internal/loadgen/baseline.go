package loadgen

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// baselineBody is what the baseline server answers: a constant small JSON
// body, about the size of the orchestrator's small answers.
var baselineBody = []byte(`{"status":"ok","timestamp":"2026-01-01T00:00:00.000Z"}`)

// baselineServer is a bare fasthttp server on a loopback port.
type baselineServer struct {
	addr string
	srv  *fasthttp.Server
	ln   net.Listener
	done chan struct{}
}

// startBaselineServer listens on 127.0.0.1 with a free port and answers every
// request with baselineBody.
func startBaselineServer() (*baselineServer, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("baseline: listen: %w", err)
	}
	b := &baselineServer{
		addr: ln.Addr().String(),
		ln:   ln,
		done: make(chan struct{}),
		srv: &fasthttp.Server{
			Name:        "baseline",
			Concurrency: 1 << 16,
			Handler: func(ctx *fasthttp.RequestCtx) {
				ctx.SetContentType("application/json")
				ctx.SetBody(baselineBody)
			},
		},
	}
	go func() {
		defer close(b.done)
		_ = b.srv.Serve(ln)
	}()
	return b, nil
}

// Close stops the server and waits for it to return.
func (b *baselineServer) Close() {
	_ = b.srv.Shutdown()
	<-b.done
}

// loadShape is what a load loop may run: how many workers, for how long and
// for at most how many calls (0 = only the deadline counts).
type loadShape struct {
	Workers  int
	Duration time.Duration
	Requests int64
}

// runLoad calls fn from shape.Workers goroutines until the deadline passes or
// shape.Requests calls have started; fn gets its worker number and a global
// sequence number. It returns the elapsed time. The loop always ends by
// itself: the deadline is mandatory.
func runLoad(shape loadShape, fn func(worker int, seq int64)) time.Duration {
	workers := max(shape.Workers, 1)
	deadline := time.Now().Add(shape.Duration)
	var seq atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				n := seq.Add(1)
				if shape.Requests > 0 && n > shape.Requests {
					return
				}
				fn(w, n-1)
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// BaselineResult is what the baseline run measured.
type BaselineResult struct {
	Concurrency int     `json:"concurrency"`
	DurationS   float64 `json:"durationSeconds"`
	Requests    int64   `json:"requests"`
	RPS         float64 `json:"rps"`
	P50ms       float64 `json:"p50Ms"`
	P99ms       float64 `json:"p99Ms"`
	MaxMs       float64 `json:"maxMs"`
	Errors      int64   `json:"errors"`
	// RPSRuns holds the rate of each baseline run (before and after the
	// scenario); the figures above are those of the faster one.
	RPSRuns []float64 `json:"rpsRuns,omitempty"`
}

// runBaseline starts the bare server, drives it with the shape given and the
// same request method and body the scenario sends, and stops it again.
func runBaseline(shape loadShape, method string, body []byte, timeout time.Duration) (BaselineResult, error) {
	srv, err := startBaselineServer()
	if err != nil {
		return BaselineResult{}, err
	}
	defer srv.Close()
	client := NewClient(srv.addr, false, shape.Workers+8, timeout)
	defer client.Close()
	rec := NewRecorder()
	elapsed := runLoad(shape, func(int, int64) {
		_, _ = client.Do(rec, "baseline", Request{Method: method, Path: "/api/baseline", Body: body})
	})
	sum := rec.Summarize(elapsed)
	var errs int64
	for _, n := range sum.Errors {
		errs += n
	}
	return BaselineResult{
		Concurrency: shape.Workers,
		DurationS:   elapsed.Seconds(),
		Requests:    sum.Requests,
		RPS:         sum.RPS,
		P50ms:       sum.P50ms,
		P99ms:       sum.P99ms,
		MaxMs:       sum.MaxMs,
		Errors:      errs,
	}, nil
}
