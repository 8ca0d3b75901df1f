package loadgen

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

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
	e.res.check("every 201 carries a QUEUED execution with an id", bad.Load() == 0, "%d malformed", bad.Load())
	if n, problems := keys.verify(); n > 0 {
		e.res.check("an Idempotency-Key repeat returns the first execution (one 201 per key)", len(problems) == 0,
			"%d keys; %v", n, sample(problems, 3))
	}
	created, after, err := e.checkNewExecutions(wf, before, ids, "created")
	if err != nil {
		return err
	}
	e.res.check("stats queued grew by the number created", after["queued"]-before["queued"] == created,
		"created %d, queued %d -> %d", created, before["queued"], after["queued"])
	e.checkStatsAgree()
	return nil
}

// checkNewExecutions reads the stats and the workflow's list after a load
// phase and checks that they moved by exactly the executions the phase got
// ids for (named verb in the checks: "created", "accepted"), none twice. It
// returns that number and the stats after.
func (e *env) checkNewExecutions(wf string, before executionStats, ids *idSet, verb string) (int64, executionStats, error) {
	n := int64(ids.len())
	after, err := e.t.stats()
	if err != nil {
		return 0, nil, err
	}
	listed, err := e.t.listTotal("/api/executions?workflowId=" + wf)
	if err != nil {
		return 0, nil, err
	}
	e.extra(verb, float64(n))
	e.res.check("no execution id handed out twice", ids.dups == 0, "%d repeats", ids.dups)
	e.res.check("stats total grew by the number "+verb, after["total"]-before["total"] == n,
		"%s %d, total %d -> %d", verb, n, before["total"], after["total"])
	e.res.check("the workflow's list holds every execution "+verb, listed == n, "listed %d, %s %d", listed, verb, n)
	return n, after, nil
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
	e.res.check("every 200 says success with an executionId", bad.Load() == 0, "%d malformed", bad.Load())
	if _, _, err := e.checkNewExecutions(wf, before, ids, "accepted"); err != nil {
		return err
	}
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
