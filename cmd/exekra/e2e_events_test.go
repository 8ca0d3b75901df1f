package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sseEvent is one event read from GET /api/events.
type sseEvent struct {
	id   uint64
	typ  string
	data map[string]any
}

// sseStream is an open event stream read by a goroutine.
type sseStream struct {
	events chan sseEvent
	ended  chan struct{} // closed when the server ends the stream
	resp   *http.Response
	cancel context.CancelFunc
	header http.Header
}

// openEvents opens GET /api/events{query} as c, with extra headers.
func (h *harness) openEvents(c *client, query string, headers ...string) *sseStream {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", h.base+"/api/events"+query, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := (&http.Client{Transport: h.http.Transport}).Do(req) // no timeout: the stream lasts
	if err != nil {
		cancel()
		h.t.Fatalf("open events: %v", err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		h.t.Fatalf("open events: %d %s", resp.StatusCode, b)
	}
	s := &sseStream{events: make(chan sseEvent, 10_000), ended: make(chan struct{}), resp: resp, cancel: cancel, header: resp.Header}
	go func() {
		defer close(s.ended)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.typ != "" {
					s.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id, _ = strconv.ParseUint(line[4:], 10, 64)
			case strings.HasPrefix(line, "event: "):
				ev.typ = line[7:]
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(line[6:]), &ev.data)
			}
		}
	}()
	h.t.Cleanup(s.close)
	return s
}

func (s *sseStream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// next waits for the next event that satisfies match (skipping others).
func (s *sseStream) next(t *testing.T, what string, match func(sseEvent) bool) sseEvent {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-s.events:
			if match(ev) {
				return ev
			}
		case <-s.ended:
			t.Fatalf("stream ended while waiting for %s", what)
		case <-deadline:
			t.Fatalf("no %s within 10 s", what)
		}
	}
}

// execStatus matches the execution event of id with a status.
func execStatus(id, status string) func(sseEvent) bool {
	return func(ev sseEvent) bool {
		return ev.typ == "execution" && ev.data["id"] == id && ev.data["status"] == status
	}
}

func TestE2EEventsExecutionLifecycle(t *testing.T) {
	h := newHarness(t)
	wf := h.publishedWorkflow(h.admin, "events-wf")
	all := h.openEvents(h.admin, "")
	if ct := all.header.Get("Content-Type"); ct != "text/event-stream" ||
		all.header.Get("Cache-Control") != "no-cache" || all.header.Get("X-Accel-Buffering") != "no" {
		t.Fatalf("headers: %v", all.header)
	}
	rn := h.rnOnline("events-runner", "")
	all.next(t, "runner ONLINE", func(ev sseEvent) bool {
		return ev.typ == "runner" && ev.data["id"] == rn.id && ev.data["status"] == "ONLINE"
	})

	id := h.createExecution(h.admin, map[string]any{"workflowId": wf, "input": map[string]any{"k": "v"}}, 201).str("execution.id")
	one := h.openEvents(h.admin, "?executionId="+id)
	queued := all.next(t, "QUEUED", execStatus(id, "QUEUED"))
	if queued.data["workflow"].(map[string]any)["name"] != "events-wf" || queued.data["input"] == nil {
		t.Fatalf("queued event: %v", queued.data)
	}
	if got := h.pollID(rn.c); got != id {
		t.Fatalf("poll: %q", got)
	}
	all.next(t, "ASSIGNED", execStatus(id, "ASSIGNED"))
	h.expect(rn.c, "POST", "/api/executions/"+id+"/status", map[string]any{"status": "RUNNING", "logs": "step 1\n"}, 200)
	h.expect(rn.c, "POST", "/api/executions/"+id+"/status", map[string]any{"status": "RUNNING", "logs": "step 2\n"}, 200)
	h.expect(rn.c, "POST", "/api/executions/"+id+"/status", map[string]any{"status": "COMPLETED", "logs": "done\n"}, 200)

	// The one-execution stream sees its statuses and log chunks in order,
	// and nothing else.
	var seen []string
	for len(seen) == 0 || seen[len(seen)-1] != "COMPLETED" {
		ev := one.next(t, "an event of "+id, func(sseEvent) bool { return true })
		if ev.data["id"] != id {
			t.Fatalf("filtered stream got %s %v", ev.typ, ev.data)
		}
		switch ev.typ {
		case "execution":
			seen = append(seen, ev.data["status"].(string))
		case "execution.log":
			seen = append(seen, "log@"+strconv.Itoa(int(ev.data["offset"].(float64)))+":"+ev.data["chunk"].(string))
		default:
			t.Fatalf("filtered stream got type %s", ev.typ)
		}
	}
	want := []string{"ASSIGNED", "log@0:step 1\n", "RUNNING", "log@7:step 2\n", "RUNNING", "log@14:done\n", "COMPLETED"}
	if strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Fatalf("sequence:\n got %q\nwant %q", seen, want)
	}
	all.next(t, "stats", func(ev sseEvent) bool { return ev.typ == "stats" && ev.data["completed"] == float64(1) })

	// Filters are checked.
	h.expectError(h.admin, "GET", "/api/events?types=nope", nil, 400, "VALIDATION_ERROR")
	h.expectError(h.admin, "GET", "/api/events", nil, 400, "VALIDATION_ERROR", "Last-Event-ID", "x")
	h.expectError(anon, "GET", "/api/events", nil, 401, "UNAUTHORIZED")
}

func TestE2EEventsResumeAndEnd(t *testing.T) {
	h := newHarness(t)
	wf := h.publishedWorkflow(h.admin, "resume-wf")
	op := h.userWithRole("OPERATOR")
	s := h.openEvents(op, "?types=execution")
	a := h.createExecution(op, map[string]any{"workflowId": wf}, 201).str("execution.id")
	first := s.next(t, "first execution", execStatus(a, "QUEUED"))
	s.close()

	// Changes while disconnected are replayed after Last-Event-ID, in order.
	b := h.createExecution(op, map[string]any{"workflowId": wf}, 201).str("execution.id")
	h.expect(op, "POST", "/api/executions/"+b+"/stop", nil, 200)
	r := h.openEvents(op, "?types=execution", "Last-Event-ID", strconv.FormatUint(first.id, 10))
	q := r.next(t, "replayed QUEUED", func(sseEvent) bool { return true })
	st := r.next(t, "replayed STOPPED", func(sseEvent) bool { return true })
	if q.data["id"] != b || q.data["status"] != "QUEUED" || st.data["id"] != b || st.data["status"] != "STOPPED" || q.id <= first.id || st.id <= q.id {
		t.Fatalf("replay: %d %v / %d %v", q.id, q.data, st.id, st.data)
	}
	// ?lastEventId= works as the header; an id this server never gave → reset.
	r2 := h.openEvents(op, "?lastEventId="+strconv.FormatUint(first.id, 10)+"&types=execution")
	if ev := r2.next(t, "replay by query", func(sseEvent) bool { return true }); ev.data["id"] != b {
		t.Fatalf("query resume: %v", ev.data)
	}
	r3 := h.openEvents(op, "", "Last-Event-ID", "999999999999")
	if ev := r3.next(t, "reset", func(sseEvent) bool { return true }); ev.typ != "reset" {
		t.Fatalf("want reset, got %s", ev.typ)
	}

	// Logout ends that session's streams.
	h.expect(op, "POST", "/api/auth/logout", nil, 200)
	for _, st := range []*sseStream{r, r2, r3} {
		select {
		case <-st.ended:
		case <-time.After(10 * time.Second):
			t.Fatal("stream still open after logout")
		}
	}
	h.expectError(op, "GET", "/api/events", nil, 401, "UNAUTHORIZED")

	// Disabling a user ends theirs.
	dev := h.userWithRole("DEVELOPER")
	ds := h.openEvents(dev, "")
	h.expect(h.admin, "PATCH", "/api/users/"+dev.user["id"].(string), map[string]any{"disabled": true}, 200)
	select {
	case <-ds.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("stream still open after disabling its user")
	}

	// Shutdown ends the admin's stream and does not wait for it.
	as := h.openEvents(h.admin, "")
	start := time.Now()
	h.stop()
	select {
	case <-as.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("stream still open after shutdown")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
}

func TestE2EEventsOverTLS(t *testing.T) {
	h := newUnactivatedHarness(t, func(c *Config) { c.InsecureHTTP = false })
	h.base = strings.Replace(h.base, "http://", "https://", 1)
	h.http.Transport = insecureTransport()
	h.activate(h.issueLicense(licenseOpts{}))
	h.admin = h.bootstrap(adminEmail, adminPassword)
	wf := h.publishedWorkflow(h.admin, "tls-wf")
	s := h.openEvents(h.admin, "?types=execution")
	var ids []string
	for i := 0; i < 20; i++ {
		ids = append(ids, h.createExecution(h.admin, map[string]any{"workflowId": wf}, 201).str("execution.id"))
	}
	for _, id := range ids {
		s.next(t, "QUEUED "+id, execStatus(id, "QUEUED"))
	}
}

func TestE2EEventsEndWithTheirAPIKey(t *testing.T) {
	h := newHarness(t)
	r := h.expect(h.admin, "POST", "/api/auth/api-keys", map[string]any{"name": "stream-key"}, 201)
	key := &client{token: r.str("key")}
	s := h.openEvents(key, "")
	other := h.openEvents(h.admin, "")
	h.expect(h.admin, "DELETE", "/api/auth/api-keys/"+r.str("apiKey.id"), nil, 200)
	select {
	case <-s.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("a stream opened with an API key is still open after its revocation")
	}
	select {
	case <-other.ended:
		t.Fatal("the admin's own session stream ended too")
	default:
	}
}

// A reset is an event like the others: it carries an id (the newest event's),
// so a client that reloads and reconnects with it resumes instead of being
// reset again.
func TestE2EEventsResetCarriesAnID(t *testing.T) {
	h := newHarness(t)
	wf := h.publishedWorkflow(h.admin, "reset-id-wf")
	s := h.openEvents(h.admin, "?types=execution")
	a := h.createExecution(h.admin, map[string]any{"workflowId": wf}, 201).str("execution.id")
	seen := s.next(t, "QUEUED", execStatus(a, "QUEUED"))
	s.close()

	r := h.openEvents(h.admin, "?types=execution", "Last-Event-ID", "999999999999")
	reset := r.next(t, "reset", func(sseEvent) bool { return true })
	if reset.typ != "reset" || reset.id < seen.id {
		t.Fatalf("reset: type %s id %d, want reset with an id ≥ %d", reset.typ, reset.id, seen.id)
	}
	r.close()

	b := h.createExecution(h.admin, map[string]any{"workflowId": wf}, 201).str("execution.id")
	again := h.openEvents(h.admin, "?types=execution", "Last-Event-ID", strconv.FormatUint(reset.id, 10))
	if ev := again.next(t, "after the reset's id", func(sseEvent) bool { return true }); ev.typ != "execution" || ev.data["id"] != b {
		t.Fatalf("resuming at the reset's id: got %s %v, want execution %s", ev.typ, ev.data["id"], b)
	}
}

// An execution event is the execution as GET /api/executions/:id shows it,
// without logs: the same fields and values, and no logs field at all.
func TestE2EEventsExecutionIsTheReadWithoutLogs(t *testing.T) {
	h := newHarness(t)
	wf := h.publishedWorkflow(h.admin, "event-view-wf")
	rn := h.rnOnline("event-view-runner", "")
	s := h.openEvents(h.admin, "?types=execution")
	id := h.createExecution(h.admin, map[string]any{"workflowId": wf, "input": map[string]any{"k": "v"}}, 201).str("execution.id")
	if got := h.pollID(rn.c); got != id {
		t.Fatalf("poll: %q", got)
	}
	h.expect(rn.c, "POST", "/api/executions/"+id+"/status", map[string]any{"status": "RUNNING", "logs": "step 1\n"}, 200)
	h.expect(rn.c, "POST", "/api/executions/"+id+"/status", map[string]any{"status": "COMPLETED", "logs": "done\n",
		"metrics": map[string]any{"cpuAvg": 1.5, "cpuPeak": 2, "memAvgMB": 10, "memPeakMB": 20}}, 200)
	done := s.next(t, "COMPLETED", execStatus(id, "COMPLETED"))

	read := dig(h.expect(h.admin, "GET", "/api/executions/"+id, nil, 200).json, "execution").(map[string]any)
	if read["logs"] != "step 1\ndone\n" {
		t.Fatalf("read logs: %v", read["logs"])
	}
	if _, ok := done.data["logs"]; ok {
		t.Fatalf("the execution event carries a logs field: %v", done.data["logs"])
	}
	delete(read, "logs")
	want, _ := json.Marshal(read)
	got, _ := json.Marshal(done.data)
	if string(got) != string(want) {
		t.Fatalf("execution event differs from the read without logs:\n got %s\nwant %s", got, want)
	}
}
