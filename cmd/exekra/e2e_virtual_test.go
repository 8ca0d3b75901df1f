package main

import (
	"fmt"
	"testing"
)

// End-to-end tests of virtual execution actors as a client sees them:
// read-your-writes across owners, a stopped ASSIGNED execution announced to
// its runner, and a queued backlog that survives a restart in order.

func TestE2EReadYourWritesAcrossOwners(t *testing.T) {
	h := newHarness(t)
	wf := h.publishedWorkflow(h.admin, "ryw")
	r := h.rnOnline("ryw-runner", "")

	// A report that ends the execution: the very next read of the runner
	// says ONLINE, with no current execution.
	id := h.rnQueue(wf)
	if got := h.expect(r.c, "POST", "/api/runners/poll", nil, 200).str("execution.id"); got != id {
		t.Fatalf("poll handed out %q, want %s", got, id)
	}
	h.expect(r.c, "POST", "/api/executions/"+id+"/status", map[string]any{"status": "RUNNING"}, 200)
	h.expect(r.c, "POST", "/api/executions/"+id+"/status", map[string]any{"status": "COMPLETED"}, 200)
	run := h.expect(h.admin, "GET", "/api/runners/"+r.id, nil, 200)
	if run.str("runner.status") != "ONLINE" || dig(run.json, "runner.currentExecutionId") != nil {
		t.Fatalf("runner right after COMPLETED: %s", run.body)
	}

	// Stopping an ASSIGNED execution: STOPPED at once, the runner free and
	// told once in stopExecutionIds; a RUNNING report then conflicts.
	id = h.rnQueue(wf)
	if got := h.expect(r.c, "POST", "/api/runners/poll", nil, 200).str("execution.id"); got != id {
		t.Fatalf("poll handed out %q, want %s", got, id)
	}
	if st := h.expect(h.admin, "POST", "/api/executions/"+id+"/stop", nil, 200).str("execution.status"); st != "STOPPED" {
		t.Fatalf("stop of an ASSIGNED execution: %s", st)
	}
	if st := h.expect(h.admin, "GET", "/api/runners/"+r.id, nil, 200).str("runner.status"); st != "ONLINE" {
		t.Fatalf("runner after its ASSIGNED execution was stopped: %s", st)
	}
	hb := h.expect(r.c, "POST", "/api/runners/heartbeat", map[string]any{}, 200)
	if ids := stopIDs(hb); len(ids) != 1 || ids[0] != id {
		t.Fatalf("stopExecutionIds after stopping ASSIGNED: %s", hb.body)
	}
	if ids := stopIDs(h.expect(r.c, "POST", "/api/runners/heartbeat", map[string]any{}, 200)); len(ids) != 0 {
		t.Fatalf("a stopped ASSIGNED execution is listed once, got again %v", ids)
	}
	h.expectError(r.c, "POST", "/api/executions/"+id+"/status", map[string]any{"status": "RUNNING"}, 409, "INVALID_TRANSITION")

	// Stopping a RUNNING execution: the id is in the next poll answer.
	id = h.rnQueue(wf)
	h.expect(r.c, "POST", "/api/runners/poll", nil, 200)
	h.expect(r.c, "POST", "/api/executions/"+id+"/status", map[string]any{"status": "RUNNING"}, 200)
	h.expect(h.admin, "POST", "/api/executions/"+id+"/stop", nil, 200)
	if ids := stopIDs(h.expect(r.c, "POST", "/api/runners/poll", nil, 200)); len(ids) != 1 || ids[0] != id {
		t.Fatalf("stopExecutionIds after stopping RUNNING: %v", ids)
	}
	h.expect(r.c, "POST", "/api/executions/"+id+"/status", map[string]any{"status": "STOPPED"}, 200)

	// Deleting a runner: its ASSIGNED execution reads QUEUED (attempt 2)
	// right after the delete.
	id = h.rnQueue(wf)
	h.expect(r.c, "POST", "/api/runners/poll", nil, 200)
	h.expect(h.admin, "DELETE", "/api/runners/"+r.id, nil, 200)
	ex := h.expect(h.admin, "GET", "/api/executions/"+id, nil, 200)
	if ex.str("execution.status") != "QUEUED" || ex.num("execution.attempt") != 2 {
		t.Fatalf("execution right after its runner's delete: %s", ex.body)
	}
	// ... and is in the queue: another runner's first poll gets it.
	r2 := h.rnOnline("ryw-runner-2", "")
	if got := h.expect(r2.c, "POST", "/api/runners/poll", nil, 200).str("execution.id"); got != id {
		t.Fatalf("the re-queued execution was not handed out: %q", got)
	}
}

// A queued backlog is rebuilt at start from the queue index, in queue
// order, and every execution is handed out once.
func TestE2EBacklogSurvivesRestart(t *testing.T) {
	h := newHarness(t)
	wf := h.publishedWorkflow(h.admin, "backlog")
	var want []string
	for _, p := range []string{"LOW", "NORMAL", "HIGH", "NORMAL", "LOW", "HIGH"} {
		want = append(want, h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf, "priority": p}, 201).str("execution.id"))
	}
	order := []string{want[2], want[5], want[1], want[3], want[0], want[4]}
	h.restart()
	r := h.rnOnline("backlog-runner", "")
	for i, id := range order {
		got := h.expect(r.c, "POST", "/api/runners/poll", nil, 200).str("execution.id")
		if got != id {
			t.Fatalf("poll %d after restart handed out %q, want %s", i, got, id)
		}
		h.expect(r.c, "POST", "/api/executions/"+id+"/status", map[string]any{"status": "RUNNING"}, 200)
		h.expect(r.c, "POST", "/api/executions/"+id+"/status", map[string]any{"status": "COMPLETED", "logs": fmt.Sprint(i)}, 200)
	}
	if h.expect(r.c, "POST", "/api/runners/poll", nil, 200).json["hasWork"] != false {
		t.Fatal("work left after the backlog was drained")
	}
}
