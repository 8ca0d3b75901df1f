package loadgen

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// runPoll drives idle runners that poll without work.
func runPoll(e *env) error {
	creds, err := e.setupRunners(e.res.Runners, "poll")
	if err != nil {
		return err
	}
	before, err := e.t.stats()
	if err != nil {
		return err
	}
	var gotWork, failed atomic.Int64
	elapsed := runLoad(e.loadShape(e.res.Concurrency), func(_ int, seq int64) {
		ans, err := e.t.poll(e.rec, creds[int(seq)%len(creds)], 0)
		switch {
		case err != nil:
			failed.Add(1)
		case ans.HasWork:
			gotWork.Add(1)
		}
	})
	e.summarize(e.rec, elapsed)
	after, err := e.t.stats()
	if err != nil {
		return err
	}
	e.res.check("every poll answered 200", failed.Load() == 0, "%d failed", failed.Load())
	e.res.check("no work handed out from an empty queue", gotWork.Load() == 0 || !e.t.managed, "%d answers had work", gotWork.Load())
	e.res.check("polling changed no execution", after["total"] == before["total"] && after["assigned"] == before["assigned"],
		"total %d -> %d, assigned %d -> %d", before["total"], after["total"], before["assigned"], after["assigned"])
	e.checkStatsAgree()
	return nil
}

// runHeartbeat drives runners that do nothing but heartbeat.
func runHeartbeat(e *env) error {
	creds, err := e.setupRunners(e.res.Runners, "heartbeat")
	if err != nil {
		return err
	}
	var failed, malformed atomic.Int64
	elapsed := runLoad(e.loadShape(e.res.Concurrency), func(_ int, seq int64) {
		ans, err := e.t.heartbeat(e.rec, creds[int(seq)%len(creds)])
		switch {
		case err != nil:
			failed.Add(1)
		case ans.Status != "ONLINE" && ans.Status != "BUSY", ans.TTLSeconds == nil || *ans.TTLSeconds <= 0, ans.StopExecutionIDs == nil:
			malformed.Add(1)
		}
	})
	e.summarize(e.rec, elapsed)
	e.res.check("every heartbeat answered 200", failed.Load() == 0, "%d failed", failed.Load())
	e.res.check("answers carry status, ttlSeconds and a stopExecutionIds array", malformed.Load() == 0, "%d malformed", malformed.Load())
	var offline []string
	for _, c := range sample(creds, 10) {
		var ans struct {
			Runner struct {
				Status          string  `json:"status"`
				LastHeartbeatAt *string `json:"lastHeartbeatAt"`
			} `json:"runner"`
		}
		if _, err := e.t.call(nil, "check", "GET", "/api/runners/"+c.ID, e.t.adminToken, nil, &ans, 200); err != nil {
			return err
		}
		if ans.Runner.Status != "ONLINE" || ans.Runner.LastHeartbeatAt == nil {
			offline = append(offline, c.Name+"="+ans.Runner.Status)
		}
	}
	e.res.check("sampled runners are ONLINE with lastHeartbeatAt", len(offline) == 0, "%v", offline)
	return nil
}

// sample returns up to n items spread over list.
func sample[T any](list []T, n int) []T {
	if len(list) <= n {
		return list
	}
	out := make([]T, 0, n)
	step := len(list) / n
	for i := 0; i < n; i++ {
		out = append(out, list[i*step])
	}
	return out
}

// idSet collects ids from many goroutines and counts repeats.
type idSet struct {
	mu    sync.Mutex
	ids   map[string]int
	order []string
	dups  int
}

func newIDSet() *idSet { return &idSet{ids: map[string]int{}} }

// add records an id with a tag and reports whether it was new.
func (s *idSet) add(id string, tag int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, seen := s.ids[id]; seen {
		s.dups++
		return false
	}
	s.ids[id] = tag
	s.order = append(s.order, id)
	return true
}

func (s *idSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

// runCreate drives POST /api/executions from many clients.
func runCreate(e *env) error {
	wf, err := e.t.createPublishedWorkflow(e.prefix("create"))
	if err != nil {
		return err
	}
	before, err := e.t.stats()
	if err != nil {
		return err
	}
	bodies := make([][]byte, 0, 3)
	for _, p := range []string{"LOW", "NORMAL", "HIGH"} {
		b, _ := json.Marshal(map[string]string{"workflowId": wf, "priority": p})
		bodies = append(bodies, b)
	}
	ids := newIDSet()
	keys := newKeyBook()
	var bad atomic.Int64
	elapsed := runLoad(e.loadShape(e.res.Concurrency), func(_ int, seq int64) {
		// Every tenth request carries an Idempotency-Key, shared by pairs of
		// such requests (seq 0 and 10, 20 and 30, ...) that usually run on
		// different workers at about the same time.
		req := Request{Method: "POST", Path: "/api/executions", Body: bodies[seq%3], Token: e.t.adminToken}
		key := ""
		if seq%10 == 0 {
			key = "load-" + e.runID + "-" + strconv.FormatInt(seq/20, 10)
			req.Header = map[string]string{"Idempotency-Key": key}
		}
		resp, err := e.t.client.Do(e.rec, "create", req)
		if err != nil || (resp.Status != 201 && (key == "" || resp.Status != 200)) {
			return
		}
		var ans struct {
			Execution struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"execution"`
		}
		if json.Unmarshal(resp.Body, &ans) != nil || ans.Execution.ID == "" || ans.Execution.Status != "QUEUED" {
			bad.Add(1)
			return
		}
		if key != "" {
			keys.note(key, ans.Execution.ID, resp.Status == 201)
		}
		if resp.Status == 201 {
			ids.add(ans.Execution.ID, 0)
		}
	})
	e.summarize(e.rec, elapsed)
	created := int64(ids.len())
	after, err := e.t.stats()
	if err != nil {
		return err
	}
	listed, err := e.t.listTotal("/api/executions?workflowId=" + wf)
	if err != nil {
		return err
	}
	e.extra("created", float64(created))
	e.res.check("every 201 carries a QUEUED execution with an id", bad.Load() == 0, "%d malformed", bad.Load())
	e.res.check("no execution id handed out twice", ids.dups == 0, "%d repeats", ids.dups)
	if n, problems := keys.verify(); n > 0 {
		e.res.check("an Idempotency-Key repeat returns the first execution (one 201 per key)", len(problems) == 0,
			"%d keys; %v", n, sample(problems, 3))
	}
	e.res.check("stats total grew by the number created", after["total"]-before["total"] == created,
		"created %d, total %d -> %d", created, before["total"], after["total"])
	e.res.check("stats queued grew by the number created", after["queued"]-before["queued"] == created,
		"created %d, queued %d -> %d", created, before["queued"], after["queued"])
	e.res.check("the workflow's list holds every execution created", listed == created, "listed %d, created %d", listed, created)
	e.checkStatsAgree()
	return nil
}

// keyBook records the answers to requests that carried an Idempotency-Key.
type keyBook struct {
	mu      sync.Mutex
	ids     map[string]map[string]bool // key -> execution ids answered
	created map[string]int             // key -> 201 answers
}

func newKeyBook() *keyBook {
	return &keyBook{ids: map[string]map[string]bool{}, created: map[string]int{}}
}

// note records one answer for key.
func (k *keyBook) note(key, id string, created bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ids[key] == nil {
		k.ids[key] = map[string]bool{}
	}
	k.ids[key][id] = true
	if created {
		k.created[key]++
	}
}

// verify returns how many keys were used and what went wrong with them: a
// key must map to one execution, created once.
func (k *keyBook) verify() (int, []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var problems []string
	for key, ids := range k.ids {
		if len(ids) != 1 || k.created[key] != 1 {
			problems = append(problems, fmt.Sprintf("%s: %d executions, %d created", key, len(ids), k.created[key]))
		}
	}
	return len(k.ids), problems
}

// runWebhook sends bursts of webhook invocations from many senders.
func runWebhook(e *env) error {
	wf, err := e.t.createPublishedWorkflow(e.prefix("webhook"))
	if err != nil {
		return err
	}
	// Every other trigger has a secret, so half the requests are signed.
	triggers := make([]string, e.cfg.triggers)
	secrets := make([]string, e.cfg.triggers)
	for i := range triggers {
		if i%2 == 1 {
			secrets[i] = "load-secret-" + randomHex(8)
		}
		if triggers[i], err = e.t.createWebhookTrigger(wf, secrets[i]); err != nil {
			return err
		}
	}
	before, err := e.t.stats()
	if err != nil {
		return err
	}
	ids := newIDSet()
	var bad atomic.Int64
	shape := e.loadShape(e.res.Concurrency)
	if shape.Requests > 0 {
		shape.Requests = (shape.Requests + int64(e.cfg.burst) - 1) / int64(e.cfg.burst)
	}
	elapsed := runLoad(shape, func(w int, seq int64) {
		for i := range e.cfg.burst {
			ti := (w + i) % len(triggers)
			body := []byte(`{"sender":` + strconv.Itoa(w) + `,"n":` + strconv.FormatInt(seq*int64(e.cfg.burst)+int64(i), 10) + `}`)
			req := Request{Method: "POST", Path: "/api/triggers/webhook/" + triggers[ti], Body: body}
			if secrets[ti] != "" {
				req.Header = map[string]string{"X-Exekra-Signature": webhookSignature(secrets[ti], body)}
			}
			resp, err := e.t.client.Do(e.rec, "webhook", req)
			if err != nil || resp.Status != 200 {
				continue
			}
			var ans struct {
				Success     bool   `json:"success"`
				ExecutionID string `json:"executionId"`
			}
			if json.Unmarshal(resp.Body, &ans) != nil || !ans.Success || ans.ExecutionID == "" {
				bad.Add(1)
				continue
			}
			ids.add(ans.ExecutionID, ti)
		}
		if e.cfg.burstGap > 0 {
			time.Sleep(e.cfg.burstGap)
		}
	})
	e.summarize(e.rec, elapsed)
	accepted := int64(ids.len())
	after, err := e.t.stats()
	if err != nil {
		return err
	}
	listed, err := e.t.listTotal("/api/executions?workflowId=" + wf)
	if err != nil {
		return err
	}
	e.extra("accepted", float64(accepted))
	e.res.check("every 200 says success with an executionId", bad.Load() == 0, "%d malformed", bad.Load())
	e.res.check("no execution id handed out twice", ids.dups == 0, "%d repeats", ids.dups)
	e.res.check("stats total grew by the number accepted", after["total"]-before["total"] == accepted,
		"accepted %d, total %d -> %d", accepted, before["total"], after["total"])
	e.res.check("the workflow's list holds every execution accepted", listed == accepted, "listed %d, accepted %d", listed, accepted)
	var wrong []string
	ids.mu.Lock()
	order := sample(ids.order, 10)
	ids.mu.Unlock()
	for _, id := range order {
		x, err := e.t.execution(id)
		if err != nil {
			return err
		}
		want := triggers[ids.ids[id]]
		if x.TriggerID == nil || *x.TriggerID != want || len(x.Input) == 0 || string(x.Input) == "null" {
			wrong = append(wrong, id)
		}
	}
	e.res.check("sampled executions carry their triggerId and the body as input", len(wrong) == 0, "%v", wrong)
	e.checkStatsAgree()
	return nil
}

// workBook tracks which runner got which execution. A fast server may hand
// an execution to a runner before its creator has read the 201, so whether an
// execution is this run's own is decided at the end, not at assignment.
type workBook struct {
	mu         sync.Mutex
	created    map[string]time.Time // own executions -> when the create was sent
	priority   map[string]string    // own executions -> priority asked for
	rank       map[string]int       // execution id -> order in which runners got it
	assigned   map[string]int       // execution id -> runner index
	assignedAt map[string]time.Time
	finished   map[string]bool // execution id -> COMPLETED accepted (false: a report failed)
	twice      []string        // executions handed to two runners
	again      int             // the same execution handed again to the same runner
	lastDone   time.Time
}

func newWorkBook() *workBook {
	return &workBook{created: map[string]time.Time{}, priority: map[string]string{}, rank: map[string]int{},
		assigned: map[string]int{}, assignedAt: map[string]time.Time{}, finished: map[string]bool{}}
}

// noteCreated records an execution this run created.
func (b *workBook) noteCreated(id string, sentAt time.Time, priority string) {
	b.mu.Lock()
	b.created[id] = sentAt
	b.priority[id] = priority
	b.mu.Unlock()
}

// noteAssigned records an assignment and reports whether the runner should
// run it (false when this runner already got it).
func (b *workBook) noteAssigned(id string, runner int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if prev, seen := b.assigned[id]; seen {
		if prev != runner {
			b.twice = append(b.twice, id)
			return false
		}
		// The same runner got it again: fine while it has not finished
		// (a report failed, say), so it tries again; a finished one is not
		// run twice.
		b.again++
		return !b.finished[id]
	}
	b.assigned[id] = runner
	b.assignedAt[id] = time.Now()
	b.rank[id] = len(b.rank)
	return true
}

// noteFinished records the outcome of running an execution.
func (b *workBook) noteFinished(id string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.finished[id] = err == nil
	if err == nil {
		b.lastDone = time.Now()
	}
}

// ownCounts returns how many own executions exist, finished (either way)
// and completed; b.mu must be held.
func (b *workBook) ownCountsLocked() (created, finished, completed int) {
	for id := range b.created {
		if ok, done := b.finished[id]; done {
			finished++
			if ok {
				completed++
			}
		}
	}
	return len(b.created), finished, completed
}

// allOwnFinished reports whether every own execution has been run.
func (b *workBook) allOwnFinished() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	created, finished, _ := b.ownCountsLocked()
	return finished >= created
}

// recordQueueWait records, for every own execution a runner got, the time
// from sending its create request to its assignment.
func (b *workBook) recordQueueWait(rec *Recorder) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, at := range b.assignedAt {
		if sent, mine := b.created[id]; mine {
			rec.RecordSample("queue wait", max(0, at.Sub(sent)))
		}
	}
}

// work runs one poll answer: records it, reports RUNNING and COMPLETED.
func (e *env) work(book *workBook, creds []runnerCred, runner int, ans pollAnswer) {
	id := ans.Execution.ID
	if !book.noteAssigned(id, runner) {
		return
	}
	book.noteFinished(id, e.t.runExecution(e.rec, creds[runner], id))
}

// checkWork adds the assignment checks and samples finished executions.
func (e *env) checkWork(book *workBook, creds []runnerCred, before executionStats) error {
	book.mu.Lock()
	created, _, completed := book.ownCountsLocked()
	twice, again := book.twice, book.again
	var foreign, failed, foreignDone int
	own := make([]string, 0, len(book.created))
	for id := range book.created {
		own = append(own, id)
	}
	for id, ok := range book.finished {
		if !ok {
			failed++
		}
		if _, mine := book.created[id]; !mine {
			foreign++
			if ok {
				foreignDone++
			}
		}
	}
	assigned := make(map[string]int, len(book.assigned))
	for id, r := range book.assigned {
		assigned[id] = r
	}
	book.mu.Unlock()

	e.extra("created", float64(created))
	e.extra("completed", float64(completed))
	e.res.check("no execution assigned to two runners", len(twice) == 0, "%d: %v", len(twice), sample(twice, 5))
	e.res.check("none lost: every execution created was completed", completed == created,
		"created %d, completed %d, assigned %d", created, completed, len(assigned))
	e.res.check("every status report answered 200", failed == 0, "%d failed", failed)
	if again > 0 {
		e.extra("redelivered to the same runner", float64(again))
	}
	if foreign > 0 {
		e.extra("foreign executions run", float64(foreign))
	}
	after, err := e.t.stats()
	if err != nil {
		return err
	}
	done := int64(completed + foreignDone)
	e.res.check("stats completed grew by the number completed", after["completed"]-before["completed"] == done,
		"completed %d, stats %d -> %d", done, before["completed"], after["completed"])
	if e.t.managed {
		e.res.check("nothing left queued, assigned or running", after["queued"]+after["assigned"]+after["running"] == 0,
			"queued %d, assigned %d, running %d", after["queued"], after["assigned"], after["running"])
	}
	var wrong []string
	for _, id := range sample(own, 10) {
		x, err := e.t.execution(id)
		if err != nil {
			return err
		}
		r, ok := assigned[id]
		switch {
		case x.Status != "COMPLETED":
			wrong = append(wrong, id+": status "+x.Status)
		case !ok || x.RunnerID == nil || *x.RunnerID != creds[r].ID:
			wrong = append(wrong, id+": runnerId differs from the runner that polled it")
		case x.StartedAt == nil || x.CompletedAt == nil:
			wrong = append(wrong, id+": startedAt or completedAt missing")
		}
	}
	e.res.check("sampled executions are COMPLETED by the runner that got them, with times", len(wrong) == 0, "%v", wrong)
	e.checkStatsAgree()
	return nil
}

// priorities are the execution priorities, in the order the queue serves them.
var priorities = []string{"HIGH", "NORMAL", "LOW"}

// createExecutions creates n executions of wf from the given workers, with
// the priorities taken in turn (LOW, NORMAL, HIGH, LOW, ...).
func (e *env) createExecutions(rec *Recorder, book *workBook, wf string, n, workers int) (time.Duration, error) {
	bodies := map[string][]byte{}
	for _, p := range priorities {
		bodies[p], _ = json.Marshal(map[string]string{"workflowId": wf, "priority": p})
	}
	var mu sync.Mutex
	var firstErr error
	elapsed := runLoad(loadShape{Workers: workers, Duration: 10 * time.Minute, Requests: int64(n)}, func(_ int, seq int64) {
		p := priorities[2-seq%3]
		if err := e.createOne(rec, book, bodies[p], p); err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}
	})
	return elapsed, firstErr
}

// checkPriorityOrder compares the mean position at which runners got the
// executions of each priority: with the whole queue filled before the
// runners start, HIGH must come before NORMAL before LOW. Runner concurrency
// blurs single positions, not the means.
func (e *env) checkPriorityOrder(book *workBook, runners int) {
	book.mu.Lock()
	sum := map[string]float64{}
	count := map[string]float64{}
	for id, p := range book.priority {
		if r, ok := book.rank[id]; ok {
			sum[p] += float64(r)
			count[p]++
		}
	}
	book.mu.Unlock()
	if count["HIGH"] < float64(runners) || count["NORMAL"] < float64(runners) || count["LOW"] < float64(runners) {
		return // too few executions per priority to tell order from concurrency
	}
	high, normal, low := sum["HIGH"]/count["HIGH"], sum["NORMAL"]/count["NORMAL"], sum["LOW"]/count["LOW"]
	e.res.check("HIGH executions were handed out before NORMAL before LOW", high < normal && normal < low,
		"mean position HIGH %.0f, NORMAL %.0f, LOW %.0f", high, normal, low)
}

// createOne creates one execution and notes it in book.
func (e *env) createOne(rec *Recorder, book *workBook, body []byte, priority string) error {
	sentAt := time.Now()
	resp, err := e.t.client.Do(rec, "create", Request{Method: "POST", Path: "/api/executions", Body: body, Token: e.t.adminToken})
	if err != nil || resp.Status != 201 {
		return apiError("POST /api/executions", resp, err)
	}
	var ans struct {
		Execution struct {
			ID string `json:"id"`
		} `json:"execution"`
	}
	if err := json.Unmarshal(resp.Body, &ans); err != nil || ans.Execution.ID == "" {
		return fmt.Errorf("POST /api/executions: no execution.id")
	}
	book.noteCreated(ans.Execution.ID, sentAt, priority)
	return nil
}

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
	book.recordQueueWait(e.rec)
	e.summarize(e.rec, drained)
	waitBounded(&wg, e.cfg.wait+e.cfg.timeout+20*time.Second)
	book.mu.Lock()
	_, _, completed := book.ownCountsLocked()
	book.mu.Unlock()
	e.extra("drain seconds", drained.Seconds())
	e.extra("executions per s", float64(completed)/drained.Seconds())
	if early.Load() > 0 {
		e.extra("long polls answered early without work", float64(early.Load()))
	}
	e.res.check("every poll answered 200", pollErrors.Load() == 0, "%d failed", pollErrors.Load())
	e.checkPriorityOrder(book, len(creds))
	return e.checkWork(book, creds, before)
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
