package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// The outbox scenario checks the event-delivery budget (docs/performance.md,
// "Event deliveries"): --change-rate events a second (default 1,000:
// executions created and stopped, each stop an execution.stopped event)
// fanned out to 10 subscriptions, one of them to a dead receiver. Every
// live receiver gets every event within 5 s; the API's creation rate while
// those events are fanned out is at least 90 % of its creation rate under
// the same paced events without subscriptions (clients creating as fast as
// the server answers, beside the paced events, measured side by side in
// the same run); the server's resident memory stays flat while the dead
// receiver's backlog grows on disk. Receivers are HTTP servers on
// 127.0.0.1 in this process; the server runs with
// --outbound-allow-loopback.

const (
	outboxSubscriptions = 10
	outboxDeadline      = 5 * time.Second
)

// outboxReceiver is one live receiver: the distinct deliveries it got and
// how late each arrived after its event.
type outboxReceiver struct {
	srv  *http.Server
	url  string
	mu   sync.Mutex
	ids  map[string]struct{}
	late []time.Duration
}

func newOutboxReceiver() (*outboxReceiver, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &outboxReceiver{ids: map[string]struct{}{}, url: "http://" + ln.Addr().String() + "/hook"}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *outboxReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	at := time.Now()
	var p struct {
		ID        string    `json:"id"`
		Type      string    `json:"type"`
		Timestamp time.Time `json:"timestamp"`
	}
	if json.Unmarshal(body, &p) == nil && p.Type == "execution.stopped" {
		r.mu.Lock()
		if _, dup := r.ids[p.ID]; !dup {
			r.ids[p.ID] = struct{}{}
			r.late = append(r.late, at.Sub(p.Timestamp))
		}
		r.mu.Unlock()
	}
	w.WriteHeader(http.StatusNoContent)
}

func (r *outboxReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ids)
}

// deadAddress is a loopback address nobody listens on: every delivery to
// it fails at once (connection refused).
func deadAddress() (string, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return "http://" + addr + "/hook", ln.Close()
}

// createAndStop makes one execution and stops it while QUEUED: one
// execution.stopped event.
func (t *target) createAndStop(rec *Recorder, body []byte) error {
	resp, err := t.client.Do(rec, "create", Request{Method: "POST", Path: "/api/executions", Body: body, Token: t.adminToken})
	if err != nil {
		return err
	}
	if resp.Status != 201 {
		return fmt.Errorf("create: %d", resp.Status)
	}
	var x struct {
		Execution struct {
			ID string `json:"id"`
		} `json:"execution"`
	}
	if err := json.Unmarshal(resp.Body, &x); err != nil || x.Execution.ID == "" {
		return fmt.Errorf("create: no execution.id")
	}
	resp, err = t.client.Do(rec, "stop", Request{Method: "POST", Path: "/api/executions/" + x.Execution.ID + "/stop", Token: t.adminToken})
	if err != nil {
		return err
	}
	if resp.Status != 200 {
		return fmt.Errorf("stop: %d", resp.Status)
	}
	return nil
}

// pairs runs create-and-stop pairs for d with workers loops, paced to rate
// pairs a second when rate > 0 (else as fast as the server answers), and
// answers how many succeeded and failed.
func (e *env) pairs(rec *Recorder, body []byte, workers int, rate float64, d time.Duration) (ok, failed int64, took time.Duration) {
	var okN, failN atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var interval time.Duration
			next := start
			if rate > 0 {
				interval = time.Duration(float64(time.Second) * float64(workers) / rate)
				next = start.Add(time.Duration(w) * interval / time.Duration(workers))
			}
			for {
				if dl := time.Until(next); dl > 0 {
					time.Sleep(dl)
				}
				if time.Since(start) >= d {
					return
				}
				if err := e.t.createAndStop(rec, body); err != nil {
					failN.Add(1)
				} else {
					okN.Add(1)
				}
				next = next.Add(interval)
			}
		}(w)
	}
	wg.Wait()
	return okN.Load(), failN.Load(), time.Since(start)
}

// creations runs create-only clients as fast as the server answers for d
// and answers how many succeeded and failed (a creation makes no event the
// subscriptions hear).
func (e *env) creations(body []byte, workers int, d time.Duration) (ok, failed int64, took time.Duration) {
	var okN, failN atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < d {
				resp, err := e.t.client.Do(nil, "create", Request{Method: "POST", Path: "/api/executions", Body: body, Token: e.t.adminToken})
				if err != nil || resp.Status != 201 {
					failN.Add(1)
				} else {
					okN.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return okN.Load(), failN.Load(), time.Since(start)
}

// mixed runs the paced events (create-and-stop pairs at rate) and the
// create-only clients side by side for d.
type mixedResult struct {
	pairsOK, pairsFailed, createsOK, createsFailed int64
	pairsTook, createsTook                         time.Duration
}

func (e *env) mixed(rec *Recorder, body []byte, workers int, rate float64, d time.Duration) mixedResult {
	var r mixedResult
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.createsOK, r.createsFailed, r.createsTook = e.creations(body, workers, d)
	}()
	// Enough pacers that each has 200 ms for its pair while the creation
	// clients keep the server busy.
	r.pairsOK, r.pairsFailed, r.pairsTook = e.pairs(rec, body, max(workers, int(rate/5)), rate, d)
	wg.Wait()
	return r
}

func runOutbox(e *env) error {
	if !e.t.managed {
		return fmt.Errorf("the outbox scenario measures the server's own memory and needs it to allow loopback receivers: run it self-managed (without --url)")
	}
	d := max(e.cfg.duration, 5*time.Second)
	rate := e.cfg.changeRate
	workers := max(1, min(e.cfg.concurrency, 256))
	wf, err := e.t.createPublishedWorkflow(e.prefix("outbox"))
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]string{"workflowId": wf})

	// 1. Without subscriptions: the API's ceiling of create-and-stop pairs
	// (for the record), then its creation rate beside the paced events.
	e.logf("outbox: %s of create-and-stop without subscriptions", d)
	okA, failA, tookA := e.pairs(nil, body, workers, 0, d)
	e.extra("pairs/s without subscriptions (as fast as answered)", float64(okA)/tookA.Seconds())
	e.logf("outbox: %s of creations beside %.0f events/s, without subscriptions", d, rate)
	mixA := e.mixed(nil, body, workers, rate, d)
	createsA := float64(mixA.createsOK) / mixA.createsTook.Seconds()
	e.extra("creations/s beside the paced events, without subscriptions", createsA)

	// 2. Nine live receivers and one dead one.
	var live []*outboxReceiver
	defer func() {
		for _, r := range live {
			_ = r.srv.Close()
		}
	}()
	for i := 0; i < outboxSubscriptions-1; i++ {
		r, err := newOutboxReceiver()
		if err != nil {
			return err
		}
		live = append(live, r)
	}
	dead, err := deadAddress()
	if err != nil {
		return err
	}
	urls := []string{dead}
	for _, r := range live {
		urls = append(urls, r.url)
	}
	for _, u := range urls {
		if _, err := e.t.call(nil, "setup", "POST", "/api/subscriptions", e.t.adminToken,
			map[string]any{"url": u, "events": []string{"execution.stopped"}, "description": "exekra loadtest"}, nil, 201); err != nil {
			return err
		}
	}
	rss0, _, err := procStat(e.t.pid)
	if err != nil {
		return err
	}
	pending0, _ := e.t.metricValue("exekra_event_outbox_pending")

	// 3. The budget's load: --change-rate events a second, paced, fanned
	// out to the subscriptions, with the creation clients beside them.
	stopSampling := sampleRSS(e.t.pid)
	e.logf("outbox: %s at %.0f events/s to %d subscriptions (one dead), creations beside them", d, rate, len(urls))
	mixB := e.mixed(e.rec, body, workers, rate, d)
	okB, failB, tookB := mixB.pairsOK, mixB.pairsFailed, mixB.pairsTook
	createsB := float64(mixB.createsOK) / mixB.createsTook.Seconds()
	rssMid, _, _ := procStat(e.t.pid)
	e.summarize(e.rec, tookB)
	achieved := float64(okB) / tookB.Seconds()
	e.extra("events/s asked", rate)
	e.extra("events/s made", achieved)
	e.extra("creations/s beside the paced events, with subscriptions", createsB)
	e.res.check("the events were made at the asked rate", achieved >= 0.9*rate && failB == 0,
		"%.0f/s of %.0f/s, %d failed", achieved, rate, failB)
	e.res.check("the API's creation rate while the events are fanned out is at least 90 % of the rate without subscriptions",
		createsA > 0 && createsB >= 0.9*createsA && failA == 0 && mixA.createsFailed == 0 && mixA.pairsFailed == 0 && mixB.createsFailed == 0,
		"%.0f/s with, %.0f/s without (%.0f %%), %d+%d+%d+%d failed", createsB, createsA, 100*createsB/max(createsA, 1),
		failA, mixA.createsFailed+mixA.pairsFailed, mixB.createsFailed, failB)

	// 4. With the subscriptions: the API's ceiling of pairs again, for the
	// record (every pair is an event for nine live receivers, so this is
	// fan-out at whatever rate the API reaches, not the budget's load).
	e.logf("outbox: %s of create-and-stop with the subscriptions", d)
	okC, failC, tookC := e.pairs(nil, body, workers, 0, d)
	peak := stopSampling()
	rss1, _, _ := procStat(e.t.pid)
	e.extra("pairs/s with subscriptions (as fast as answered)", float64(okC)/tookC.Seconds())
	if failC > 0 {
		e.res.check("the pairs with subscriptions were answered", false, "%d failed", failC)
	}

	// 5. Every live receiver gets every event of phases 3 and 4 within 5 s.
	want := int(okB + okC)
	wait := time.Now().Add(outboxDeadline)
	for time.Now().Before(wait) {
		all := true
		for _, r := range live {
			if r.count() < want {
				all = false
			}
		}
		if all {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	caughtUpIn := time.Since(wait.Add(-outboxDeadline))
	least := want
	var late []time.Duration
	for _, r := range live {
		r.mu.Lock()
		least = min(least, len(r.ids))
		late = append(late, r.late...)
		r.mu.Unlock()
	}
	sort.Slice(late, func(i, j int) bool { return late[i] < late[j] })
	var p50, p99, worst time.Duration
	if k := len(late); k > 0 {
		p50, p99, worst = late[k/2], late[k*99/100], late[k-1]
	}
	e.extra("events made with subscriptions", float64(want))
	e.extra("fewest events at a live receiver (5 s after the load)", float64(least))
	e.extra("delivery latency p50 ms", ms(p50))
	e.extra("delivery latency p99 ms", ms(p99))
	e.extra("delivery latency max ms", ms(worst))
	e.res.check("every live receiver got every event", least == want, "the slowest got %d of %d, %.1f s after the load", least, want, caughtUpIn.Seconds())
	e.res.check("each event reached the live receivers within 5 s", least == want && worst <= outboxDeadline,
		"p50 %.0f ms, p99 %.0f ms, max %.0f ms (of those delivered)", ms(p50), ms(p99), ms(worst))

	// 6. Memory flat while the dead receiver's backlog grows on disk.
	pending1, err := e.t.metricValue("exekra_event_outbox_pending")
	if err != nil {
		return err
	}
	oldest, _ := e.t.metricValue("exekra_event_outbox_oldest_pending_seconds")
	e.extra("outbox pending before", pending0)
	e.extra("outbox pending after", pending1)
	e.extra("outbox oldest pending s", oldest)
	e.extra("server RSS MiB with subscriptions, start", rss0)
	e.extra("server RSS MiB after the paced load", rssMid)
	e.extra("server RSS MiB at the end", rss1)
	e.extra("server RSS MiB during load (max)", peak)
	e.res.check("the dead receiver's backlog grows", pending1-pending0 >= float64(want), "%.0f → %.0f events pending", pending0, pending1)
	e.res.check("memory stays flat while it grows (under 64 MiB more)", peak-rss0 < 64,
		"%.0f MiB at the start, %.0f MiB at most, %.0f MiB at the end", rss0, peak, rss1)
	return nil
}
