package loadgen

import (
	"encoding/json"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// runLifecycle queues executions and lets long-polling runners drain them.
func runLifecycle(e *env) error {
	creds, err := e.setupRunners(e.res.Runners, "lifecycle")
	if err != nil {
		return err
	}
	wf, err := e.t.createPublishedWorkflow(e.prefix("lifecycle"))
	if err != nil {
		return err
	}
	before, err := e.t.stats()
	if err != nil {
		return err
	}
	book := newWorkBook()
	prefill := NewRecorder()
	e.logf("lifecycle: queueing %d executions", e.cfg.executions)
	createElapsed, err := e.createExecutions(prefill, book, wf, e.cfg.executions, e.cfg.concurrency)
	if err != nil {
		return err
	}
	ps := prefill.Summarize(createElapsed)
	e.extra("prefill creates per s", ps.RPS)
	e.extra("prefill create p99 ms", ps.P99ms)

	e.logf("lifecycle: %d runners draining the queue", len(creds))
	cost := e.startDrainCost()
	var stop atomic.Bool
	start := time.Now()
	deadline := start.Add(e.cfg.drainTimeout)
	var pollErrors, early atomic.Int64
	var wg sync.WaitGroup
	for i := range creds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() && time.Now().Before(deadline) {
				asked := time.Now()
				ans, err := e.t.poll(e.rec, creds[i], e.cfg.wait)
				if err != nil {
					pollErrors.Add(1)
					time.Sleep(100 * time.Millisecond)
					continue
				}
				if !ans.HasWork {
					e.backOffIfEarly(&early, asked, e.cfg.wait)
					continue
				}
				e.work(book, creds, i, ans)
				if book.allOwnFinished() {
					stop.Store(true)
				}
			}
		}()
	}
	for time.Now().Before(deadline) && !book.allOwnFinished() {
		time.Sleep(10 * time.Millisecond)
	}
	stop.Store(true)
	// The figures cover the drain: long polls still parked now return empty
	// when their wait is over and would only measure --wait.
	drained := time.Since(start)
	book.mu.Lock()
	_, _, completed := book.ownCountsLocked()
	book.mu.Unlock()
	e.endDrainCost(cost, completed)
	book.recordQueueWait(e.rec)
	e.summarize(e.rec, drained)
	waitBounded(&wg, e.cfg.wait+e.cfg.timeout+20*time.Second)
	e.extra("drain seconds", drained.Seconds())
	e.extra("executions per s", float64(completed)/drained.Seconds())
	if early.Load() > 0 {
		e.extra("long polls answered early without work", float64(early.Load()))
	}
	e.res.check("every poll answered 200", pollErrors.Load() == 0, "%d failed", pollErrors.Load())
	e.checkPriorityOrder(book, len(creds))
	return e.checkWork(book, creds, before)
}

// drainCost holds the counters read when the drain starts.
type drainCost struct {
	serverCPU, selfCPU, commits, writes, commitSecs float64
	server, self, store                             bool
}

// Storage series of GET /metrics that the drain figures read.
const (
	metricCommits    = "exekra_storage_commits_total"
	metricWrites     = "exekra_storage_writes_total"
	metricCommitSecs = "exekra_storage_commit_duration_seconds_sum"
)

// startDrainCost reads the CPU time of the managed server and of this
// process, and the server's storage counters, before the drain.
func (e *env) startDrainCost() drainCost {
	var c drainCost
	var err error
	if e.t.managed {
		c.serverCPU, err = cpuSeconds(e.t.pid)
		c.server = err == nil
	}
	c.selfCPU, err = cpuSeconds(os.Getpid())
	c.self = err == nil
	c.commits, c.writes, c.commitSecs, c.store = e.storeCounters()
	return c
}

// storeCounters reads the storage commit counters from GET /metrics.
func (e *env) storeCounters() (commits, writes, secs float64, ok bool) {
	var err1, err2, err3 error
	commits, err1 = e.t.metricValue(metricCommits)
	writes, err2 = e.t.metricValue(metricWrites)
	secs, err3 = e.t.metricValue(metricCommitSecs)
	return commits, writes, secs, err1 == nil && err2 == nil && err3 == nil
}

// endDrainCost reports what the drain cost per completed execution: the
// server's CPU and this load generator's (both on the same machine, so
// their sum is what the throughput is bounded by), and the group commits
// the server made (writes per commit, milliseconds per commit).
func (e *env) endDrainCost(c drainCost, completed int) {
	if completed == 0 {
		return
	}
	n := float64(completed)
	if cpu, err := cpuSeconds(e.t.pid); c.server && err == nil {
		e.extra("drain server CPU ms per execution", 1000*(cpu-c.serverCPU)/n)
	}
	if cpu, err := cpuSeconds(os.Getpid()); c.self && err == nil {
		e.extra("drain load generator CPU ms per execution", 1000*(cpu-c.selfCPU)/n)
	}
	if commits, writes, secs, ok := e.storeCounters(); c.store && ok && commits > c.commits {
		e.extra("drain storage commits", commits-c.commits)
		e.extra("drain storage writes per execution", (writes-c.writes)/n)
		e.extra("drain storage writes per commit", (writes-c.writes)/(commits-c.commits))
		e.extra("drain storage ms per commit", 1000*(secs-c.commitSecs)/(commits-c.commits))
	}
}

// backOffIfEarly counts a long poll that came back empty long before its
// wait was over and pauses a second, so a server that ignores ?wait= is not
// hammered by a tight loop.
func (e *env) backOffIfEarly(early *atomic.Int64, asked time.Time, wait time.Duration) {
	if wait > 0 && time.Since(asked) < wait/2 {
		early.Add(1)
		time.Sleep(time.Second)
	}
}

// waitBounded waits for wg, but not longer than limit.
func waitBounded(wg *sync.WaitGroup, limit time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(limit):
		return false
	}
}

// runScale runs many long-polling, heartbeating runners while executions
// flow at a steady rate.
func runScale(e *env) error {
	n := e.res.Runners
	duration := 60 * time.Second
	if e.cfg.durationSet {
		duration = e.cfg.duration
	}
	wf, err := e.t.createPublishedWorkflow(e.prefix("scale"))
	if err != nil {
		return err
	}
	e.logf("scale: registering %d runners", n)
	creds, err := e.t.registerRunners(n, e.prefix("scale"), 32, e.logf)
	if err != nil {
		return err
	}
	before, err := e.t.stats()
	if err != nil {
		return err
	}
	book := newWorkBook()
	var stop atomic.Bool
	var hbErrors, pollErrors, early atomic.Int64
	start := time.Now()
	stagger := min(e.cfg.heartbeatInterval, 5*time.Second)
	var runners sync.WaitGroup
	e.logf("scale: %d runners long-polling (wait %s, heartbeat every %s) for %s at %.1f executions/s",
		n, e.cfg.wait, e.cfg.heartbeatInterval, duration, e.cfg.rate)
	for i := range creds {
		runners.Add(1)
		go func() {
			defer runners.Done()
			time.Sleep(time.Duration(int64(stagger) * int64(i) / int64(n)))
			if _, err := e.t.heartbeat(e.rec, creds[i]); err != nil {
				hbErrors.Add(1)
			}
			nextBeat := time.Now().Add(e.cfg.heartbeatInterval)
			for !stop.Load() {
				if !time.Now().Before(nextBeat) {
					if _, err := e.t.heartbeat(e.rec, creds[i]); err != nil {
						hbErrors.Add(1)
					}
					nextBeat = nextBeat.Add(e.cfg.heartbeatInterval)
					continue
				}
				wait := min(e.cfg.wait, time.Until(nextBeat))
				if wait < time.Second {
					wait = 0
					if e.cfg.wait > 0 {
						wait = time.Second
					}
				}
				asked := time.Now()
				ans, err := e.t.poll(e.rec, creds[i], wait)
				if err != nil {
					pollErrors.Add(1)
					time.Sleep(time.Second)
					continue
				}
				switch {
				case ans.HasWork:
					e.work(book, creds, i, ans)
				case wait == 0:
					time.Sleep(time.Second) // plain polling: do not spin
				default:
					e.backOffIfEarly(&early, asked, wait)
				}
			}
		}()
	}

	// The producer: --rate executions per second for the duration.
	body, _ := json.Marshal(map[string]string{"workflowId": wf, "priority": "NORMAL"})
	var createErrors atomic.Int64
	var producers sync.WaitGroup
	tick := time.NewTicker(time.Duration(float64(time.Second) / e.cfg.rate))
	produceUntil := start.Add(duration)
	tickets := make(chan struct{})
	for range 4 {
		producers.Add(1)
		go func() {
			defer producers.Done()
			for range tickets {
				if e.createOne(e.rec, book, body, "NORMAL") != nil {
					createErrors.Add(1)
				}
			}
		}()
	}
	for now := range tick.C {
		if !now.Before(produceUntil) {
			break
		}
		select {
		case tickets <- struct{}{}:
		default: // producers busy: this tick is skipped, the created rate shows it
		}
	}
	tick.Stop()
	close(tickets)
	producers.Wait()

	// Drain: wait until every created execution is done or the time is up.
	drainUntil := time.Now().Add(e.cfg.drainTimeout)
	for time.Now().Before(drainUntil) {
		if book.allOwnFinished() {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	drained := time.Since(start)
	stop.Store(true)
	// The figures cover production and drain; polls still parked now return
	// empty when their wait is over.
	book.recordQueueWait(e.rec)
	e.summarize(e.rec, drained)
	e.logf("scale: stopping runners (up to %s for parked long polls)", e.cfg.wait)
	if !waitBounded(&runners, e.cfg.wait+e.cfg.timeout+20*time.Second) {
		e.res.check("every runner loop ended", false, "some long polls never returned")
	}
	book.mu.Lock()
	_, _, completed := book.ownCountsLocked()
	book.mu.Unlock()
	e.extra("executions per s", float64(completed)/drained.Seconds())
	for _, op := range e.res.Ops {
		if op.Name == "heartbeat" {
			e.extra("heartbeats per s", op.RPS)
		}
	}
	if early.Load() > 0 {
		e.extra("long polls answered early without work", float64(early.Load()))
	}
	e.res.check("every heartbeat answered 200", hbErrors.Load() == 0, "%d failed", hbErrors.Load())
	e.res.check("every poll answered 200", pollErrors.Load() == 0, "%d failed", pollErrors.Load())
	e.res.check("every create answered 201", createErrors.Load() == 0, "%d failed", createErrors.Load())
	if e.t.managed {
		offline, err := e.t.listTotal("/api/runners?status=OFFLINE")
		if err != nil {
			return err
		}
		e.res.check("no runner went OFFLINE", offline == 0, "%d OFFLINE", offline)
	}
	return e.checkWork(book, creds, before)
}
