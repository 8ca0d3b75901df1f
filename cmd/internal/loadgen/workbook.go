package loadgen

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

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
	// ownFinished and ownCompleted count the own executions in finished
	// (either way, and accepted), kept as both maps change: runners ask
	// after every execution whether all are done, and counting the maps
	// then was O(executions) per completion — with 20,000 executions it
	// took a core of the load generator.
	ownFinished, ownCompleted int
}

func newWorkBook() *workBook {
	return &workBook{created: map[string]time.Time{}, priority: map[string]string{}, rank: map[string]int{},
		assigned: map[string]int{}, assignedAt: map[string]time.Time{}, finished: map[string]bool{}}
}

// noteCreated records an execution this run created.
func (b *workBook) noteCreated(id string, sentAt time.Time, priority string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, dup := b.created[id]; !dup {
		if ok, done := b.finished[id]; done {
			// Run before its creator read the 201.
			b.ownFinished++
			if ok {
				b.ownCompleted++
			}
		}
	}
	b.created[id] = sentAt
	b.priority[id] = priority
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
	prev, had := b.finished[id]
	b.finished[id] = err == nil
	if _, mine := b.created[id]; mine {
		if !had {
			b.ownFinished++
		}
		if had && prev {
			b.ownCompleted--
		}
		if err == nil {
			b.ownCompleted++
		}
	}
	if err == nil {
		b.lastDone = time.Now()
	}
}

// ownCountsLocked returns how many own executions exist, finished (either
// way) and completed; b.mu must be held.
func (b *workBook) ownCountsLocked() (created, finished, completed int) {
	return len(b.created), b.ownFinished, b.ownCompleted
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
