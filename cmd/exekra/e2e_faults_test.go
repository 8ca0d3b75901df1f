//go:build linux

package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
	"github.com/exekra/orchestrator/storage"
)

// Durability under faults, against the real binary: kill -9 in the middle
// of a burst of acknowledged writes loses none of them; a torn or garbage
// database file stops the server with a clear message instead of a silently
// empty database; a full disk turns writes into errors and health into 503
// with nothing half-written.

func TestFaultsKill9DuringBurst(t *testing.T) {
	p := newServerProc(t)
	p.start()
	p.setup()

	wf := dig2(p.must("POST", "/api/workflows", map[string]any{"name": "burst"}, 201), "workflow.id")
	graph := `{"nodes":[{"id":"s","type":"start"},{"id":"e","type":"end"}],"edges":[{"source":"s","target":"e"}]}`
	p.must("POST", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": graph}, 201)
	p.must("POST", "/api/workflows/"+wf+"/publish", nil, 200)
	hook := dig2(p.must("POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK", "config": "{}", "enabled": true}, 201), "trigger.id")

	// The burst: executions, webhook calls and user registrations from
	// concurrent clients; every 2xx answer is recorded with what it acknowledged.
	type acked struct{ kind, id string }
	var (
		mu      sync.Mutex
		acks    []acked
		sent    atomic.Int64
		stop    atomic.Bool
		workers = 8 * runtime.NumCPU()
		wg      sync.WaitGroup
	)
	const maxRequests = 6000
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; !stop.Load() && sent.Add(1) <= maxRequests; i++ {
				var (
					status int
					out    map[string]any
					err    error
					a      acked
				)
				switch i % 8 {
				case 7:
					email := fmt.Sprintf("burst-%d-%d@example.com", w, i)
					status, out, err = p.call("POST", "/api/auth/register", map[string]any{"email": email, "password": "password-123", "name": "B"})
					a = acked{"user", dig2(out, "user.id")}
				case 1, 3, 5:
					status, out, err = p.call("POST", "/api/triggers/webhook/"+hook, fmt.Sprintf(`{"w":%d,"i":%d}`, w, i),
						"Idempotency-Key", fmt.Sprintf("burst-%d-%d", w, i))
					a = acked{"execution", dig2(out, "executionId")}
				default:
					status, out, err = p.call("POST", "/api/executions", map[string]any{"workflowId": wf, "input": map[string]any{"w": w, "i": i}})
					a = acked{"execution", dig2(out, "execution.id")}
				}
				if err != nil {
					return // the server is gone
				}
				if status/100 == 2 {
					if a.id == "" {
						t.Errorf("2xx without an id: %v", out)
						return
					}
					mu.Lock()
					acks = append(acks, a)
					mu.Unlock()
				}
			}
		}(w)
	}
	// Meanwhile a runner takes work and reports it done: every report
	// answered 200 is acknowledged too (RUNNING, then COMPLETED).
	creds := p.must("POST", "/api/runners/register", map[string]any{"name": "burst-runner", "type": "UNATTENDED"}, 201)
	auth := p.must("POST", "/api/runners/authenticate", map[string]any{"machineKey": creds["machineKey"], "machineSecret": creds["machineSecret"]}, 200)
	rtoken, _ := auth["token"].(string)
	if status, out, err := p.callAs(rtoken, "POST", "/api/runners/heartbeat", map[string]any{}); err != nil || status != 200 {
		t.Fatalf("heartbeat: %d %v %v", status, out, err)
	}
	var (
		runnerMu    sync.Mutex
		runnerState = map[string]string{} // execution id → last acknowledged status
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			status, out, err := p.callAs(rtoken, "POST", "/api/runners/poll", map[string]any{})
			if err != nil {
				return
			}
			id := dig2(out, "execution.id")
			if status != 200 || id == "" {
				time.Sleep(2 * time.Millisecond)
				continue
			}
			runnerMu.Lock()
			if runnerState[id] == "" {
				runnerState[id] = "ASSIGNED"
			}
			runnerMu.Unlock()
			for _, next := range []string{"RUNNING", "COMPLETED"} {
				status, _, err := p.callAs(rtoken, "POST", "/api/executions/"+id+"/status", map[string]any{"status": next, "logs": "burst " + next})
				if err != nil {
					return
				}
				if status != 200 {
					t.Errorf("report %s on %s: %d", next, id, status)
					return
				}
				runnerMu.Lock()
				runnerState[id] = next
				runnerMu.Unlock()
			}
		}
	}()

	// Kill once a good part of the burst is acknowledged (bounded in time).
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(acks)
		mu.Unlock()
		if n >= 800 || sent.Load() >= maxRequests/2 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	stop.Store(true)
	wg.Wait()
	_ = p.waitExit(10 * time.Second)
	mu.Lock()
	got := append([]acked(nil), acks...)
	mu.Unlock()
	if len(got) < 20 {
		t.Fatalf("only %d writes acknowledged before the kill; the burst is too small to prove anything", len(got))
	}
	t.Logf("%d requests sent, %d acknowledged before SIGKILL", min(sent.Load(), maxRequests), len(got))

	// Restart on the same data dir: every acknowledged write is there, in
	// the state it was acknowledged in (no runner exists, so still QUEUED).
	p.start()
	seen := map[string]bool{}
	userList := ""
	var lostAssignment []string
	for _, a := range got {
		if seen[a.id] {
			t.Errorf("id %s acknowledged twice", a.id)
		}
		seen[a.id] = true
		switch a.kind {
		case "execution":
			out := p.must("GET", "/api/executions/"+a.id, nil, 200)
			s := dig2(out, "execution.status")
			// QUEUED as acknowledged, or ASSIGNED by a poll whose answer the
			// kill swallowed (the runner gets it back on its next poll).
			if runnerState[a.id] == "" && s != "QUEUED" && s != "ASSIGNED" {
				t.Errorf("execution %s is %s after the crash, want QUEUED (or ASSIGNED by a lost poll answer)", a.id, s)
			}
			if runnerState[a.id] == "" && s == "ASSIGNED" {
				lostAssignment = append(lostAssignment, a.id)
			}
			if dig2(out, "execution.workflowId") != wf {
				t.Errorf("execution %s lost its workflow: %v", a.id, out)
			}
		case "user":
			if userList == "" {
				// users are few (one request in eight, bcrypt-bound): two pages hold them all
				for page := 1; page <= 2; page++ {
					userList += fmt.Sprint(p.must("GET", fmt.Sprintf("/api/users?limit=200&page=%d", page), nil, 200)["users"])
				}
			}
			if !strings.Contains(userList, a.id) {
				t.Errorf("user %s is gone after the crash", a.id)
			}
		}
	}
	// An assignment whose answer the kill swallowed comes back on the
	// runner's next poll.
	if len(lostAssignment) > 1 {
		t.Errorf("the runner holds %d assignments at once: %v", len(lostAssignment), lostAssignment)
	}
	if len(lostAssignment) == 1 {
		t.Logf("execution %s was ASSIGNED by a poll whose answer the kill swallowed", lostAssignment[0])
		_, out, err := p.callAs(rtoken, "POST", "/api/runners/poll", map[string]any{})
		if err != nil || dig2(out, "execution.id") != lostAssignment[0] {
			lost := p.must("GET", "/api/executions/"+lostAssignment[0], nil, 200)
			rec := p.must("GET", "/api/runners/"+dig2(creds, "id"), nil, 200)
			t.Errorf("after the crash the runner's poll answers execution %s (%v), want its lost assignment %s (status %s, runner %s); runner record: %v",
				dig2(out, "execution.id"), err, lostAssignment[0], dig2(lost, "execution.status"), dig2(lost, "execution.runnerId"), rec)
		}
	}

	// Work the runner was told about or reported is at least as far along
	// as acknowledged; a terminal report is never lost.
	rank := map[string]int{"QUEUED": 0, "ASSIGNED": 1, "RUNNING": 2, "COMPLETED": 3}
	runnerMu.Lock()
	defer runnerMu.Unlock()
	completed := 0
	for id, want := range runnerState {
		out := p.must("GET", "/api/executions/"+id, nil, 200)
		got := dig2(out, "execution.status")
		if r, ok := rank[got]; !ok || r < rank[want] {
			t.Errorf("execution %s is %s after the crash, acknowledged %s", id, got, want)
		}
		if want == "COMPLETED" {
			completed++
			if !strings.Contains(fmt.Sprint(dig(out, "execution.logs")), "burst COMPLETED") {
				t.Errorf("execution %s lost its acknowledged logs: %v", id, dig(out, "execution.logs"))
			}
		}
	}
	t.Logf("the runner had %d executions acknowledged COMPLETED", completed)
	// Analytics fold in the same write as the terminal status: after the
	// crash they agree with the executions exactly.
	stats0 := p.must("GET", "/api/executions/stats", nil, 200)
	perf := p.must("GET", "/api/analytics/process-performance", nil, 200)
	var folded float64
	rows, _ := perf["workflows"].([]any)
	for _, r := range rows {
		if row, _ := r.(map[string]any); row["workflowId"] == wf {
			folded, _ = row["completed"].(float64)
		}
	}
	if c, _ := stats0["completed"].(float64); c != folded || int(c) < completed {
		t.Errorf("after the crash %v executions are COMPLETED, analytics count %v, %d were acknowledged", c, folded, completed)
	}

	// The store is usable after the crash: new writes work and are counted.
	stats := p.must("GET", "/api/executions/stats", nil, 200)
	nExec := 0
	for _, a := range got {
		if a.kind == "execution" {
			nExec++
		}
	}
	if total, _ := stats["total"].(float64); int(total) < nExec {
		t.Errorf("stats total %v < %d acknowledged executions", total, nExec)
	}
	p.must("POST", "/api/executions", map[string]any{"workflowId": wf}, 201)
	runnerMu.Unlock()
	var ackedExecs []string
	for _, a := range got {
		if a.kind == "execution" {
			ackedExecs = append(ackedExecs, a.id)
		}
	}
	drainAfterCrash(t, p, ackedExecs)
	runnerMu.Lock()
	p.terminate()
}

// drainAfterCrash lets several runners empty the queue that a start rebuilt
// from the queue index after a crash: every acknowledged execution still
// QUEUED is handed out exactly once, none twice.
func drainAfterCrash(t *testing.T, p *serverProc, acked []string) {
	t.Helper()
	queued := map[string]bool{}
	for _, id := range acked {
		if dig2(p.must("GET", "/api/executions/"+id, nil, 200), "execution.status") == "QUEUED" {
			queued[id] = true
		}
	}
	var (
		mu       sync.Mutex
		handed   = map[string]string{} // execution → runner
		wg       sync.WaitGroup
		deadline = time.Now().Add(90 * time.Second)
	)
	for r := 0; r < 6; r++ {
		creds := p.must("POST", "/api/runners/register", map[string]any{"name": fmt.Sprintf("drain-%d", r)}, 201)
		auth := p.must("POST", "/api/runners/authenticate", map[string]any{"machineKey": creds["machineKey"], "machineSecret": creds["machineSecret"]}, 200)
		token, _ := auth["token"].(string)
		if status, _, err := p.callAs(token, "POST", "/api/runners/heartbeat", map[string]any{}); err != nil || status != 200 {
			t.Fatalf("heartbeat: %d %v", status, err)
		}
		wg.Add(1)
		go func(name, token string) {
			defer wg.Done()
			for time.Now().Before(deadline) {
				status, out, err := p.callAs(token, "POST", "/api/runners/poll", map[string]any{})
				if err != nil || status != 200 {
					t.Errorf("poll: %d %v", status, err)
					return
				}
				id := dig2(out, "execution.id")
				if id == "" {
					st := p.must("GET", "/api/executions/stats", nil, 200)
					if q, _ := st["queued"].(float64); q == 0 {
						return
					}
					continue
				}
				mu.Lock()
				if prev, dup := handed[id]; dup && prev != name {
					t.Errorf("execution %s handed to %s and %s", id, prev, name)
				}
				handed[id] = name
				mu.Unlock()
				for _, next := range []string{"RUNNING", "COMPLETED"} {
					if status, _, err := p.callAs(token, "POST", "/api/executions/"+id+"/status", map[string]any{"status": next}); err != nil || status != 200 {
						t.Errorf("report %s on %s: %d %v", next, id, status, err)
						return
					}
				}
			}
		}(fmt.Sprintf("drain-%d", r), token)
	}
	wg.Wait()
	for id := range queued {
		if handed[id] == "" {
			t.Errorf("acknowledged execution %s was QUEUED after the crash and never handed out", id)
		}
	}
	t.Logf("%d executions QUEUED after the crash, all handed out once", len(queued))
}

func TestFaultsTornDatabaseFile(t *testing.T) {
	p := newServerProc(t)
	p.start()
	p.setup()
	p.terminate()
	dbPath := filepath.Join(p.dir, "exekra.db")
	good, err := os.ReadFile(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(good) < 3*4096 {
		t.Fatalf("database is only %d bytes", len(good))
	}
	garbage := func(n int) []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b
	}
	for _, tc := range []struct {
		name  string
		bytes func() []byte
	}{
		{"truncated to a few bytes", func() []byte { return good[:7] }},
		{"truncated mid-page", func() []byte { return good[:4096+100] }},
		{"garbage over both meta pages", func() []byte {
			b := append([]byte(nil), good...)
			copy(b, garbage(2*4096))
			return b
		}},
		{"all garbage", func() []byte { return garbage(len(good)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.t = t
			defer func() { p.t = t }()
			if err := os.WriteFile(dbPath, tc.bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			p.launch()
			err := p.waitExit(20 * time.Second)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() == 0 {
				t.Fatalf("server started on a damaged database (exit %v)\n%s", err, p.stderr.String())
			}
			lines := nonEmptyLines(p.stderr.String())
			if len(lines) == 0 {
				t.Fatal("no message on a damaged database")
			}
			last := lines[len(lines)-1]
			if !strings.Contains(last, dbPath) {
				t.Fatalf("the message does not name the file %s:\n%s", dbPath, p.stderr.String())
			}
			if strings.Contains(p.stderr.String(), "goroutine ") {
				t.Fatalf("a panic instead of a message:\n%s", p.stderr.String())
			}
			t.Logf("exit %d: %s", ee.ExitCode(), last)
		})
	}
	p.t = t

	// Only the first meta page damaged: bbolt falls back to the second one.
	// Either the data is intact or the start fails clearly — never a
	// silently empty database.
	t.Run("garbage over the first meta page", func(t *testing.T) {
		p.t = t
		defer func() { p.t = t }()
		b := append([]byte(nil), good...)
		copy(b[16:4096], garbage(4096-16))
		if err := os.WriteFile(dbPath, b, 0o600); err != nil {
			t.Fatal(err)
		}
		p.launch()
		if !p.servesState(t, "BOOTSTRAPPED") {
			return
		}
		t.Log("served the intact data from the second meta page")
		p.terminate()
	})

	// A missing file in an existing data dir starts fresh (documented).
	t.Run("missing file starts fresh", func(t *testing.T) {
		p.t = t
		defer func() { p.t = t }()
		if err := os.Remove(dbPath); err != nil {
			t.Fatal(err)
		}
		p.start()
		_, out, err := p.call("GET", "/api/status", nil)
		if err != nil || out["state"] != "UNACTIVATED" {
			t.Fatalf("state after removing the database: %v %v", out, err)
		}
		p.terminate()
	})

	// An empty (0-byte) file: bbolt would initialise it as a new database.
	// That is acceptable only because nothing in it was ever acknowledged;
	// it is recorded here so the behaviour stays a decision.
	t.Run("zero-length file", func(t *testing.T) {
		p.t = t
		defer func() { p.t = t }()
		if err := os.WriteFile(dbPath, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		p.launch()
		select {
		case err := <-p.exited:
			p.exited <- err
			if !strings.Contains(p.stderr.String(), dbPath) {
				t.Fatalf("refused a 0-byte file without naming it: %v\n%s", err, p.stderr.String())
			}
			t.Logf("a 0-byte database file is refused: %s", lastLine(p.stderr.String()))
		case <-time.After(3 * time.Second):
			_, out, err := p.call("GET", "/api/status", nil)
			t.Logf("a 0-byte database file starts a fresh database (state %v, %v)", out["state"], err)
			p.terminate()
		}
	})
}

// faultsDiskFull swaps every descriptor this process holds on path (the
// database's own and the preallocator's) for /dev/full, so every write fails
// with ENOSPC, until the returned function runs. bbolt reads through its
// mmap, so reads keep working.
func faultsDiskFull(t *testing.T, path string) (free func()) {
	t.Helper()
	want, err := filepath.EvalSymlinks(path)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot simulate a full disk: %v", err)
	}
	var fds []int
	for _, e := range entries {
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && target == want {
			var fd int
			if _, err := fmt.Sscan(e.Name(), &fd); err == nil {
				fds = append(fds, fd)
			}
		}
	}
	if len(fds) == 0 {
		t.Skipf("cannot simulate a full disk: no descriptor on %s", want)
	}
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("cannot simulate a full disk: %v", err)
	}
	defer full.Close()
	saved := map[int]int{} // swapped descriptor → its saved duplicate
	restore := func() {
		for fd, dup := range saved {
			if err := syscall.Dup3(dup, fd, syscall.O_CLOEXEC); err != nil {
				t.Errorf("restore the database descriptor: %v", err)
			}
			syscall.Close(dup)
		}
	}
	for _, fd := range fds {
		dup, err := syscall.Dup(fd)
		if err != nil {
			restore()
			t.Fatal(err)
		}
		if err := syscall.Dup3(int(full.Fd()), fd, syscall.O_CLOEXEC); err != nil {
			syscall.Close(dup)
			restore()
			t.Skipf("cannot simulate a full disk: %v", err)
		}
		saved[fd] = dup
	}
	var once sync.Once
	free = func() { once.Do(restore) }
	t.Cleanup(free)
	return free
}

func TestFaultsFullDisk(t *testing.T) {
	h := newHarness(t)
	wf := h.publishedWorkflow(h.admin, "full-disk")
	h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201)
	usersBefore := h.expect(h.admin, "GET", "/api/users", nil, 200).num("pagination.total")
	execsBefore := h.expect(h.admin, "GET", "/api/executions/stats", nil, 200).num("total")

	free := faultsDiskFull(t, filepath.Join(h.cfg.DataDir, "exekra.db"))
	// Writes answer an error (5xx JSON, no internals), never a 2xx.
	for _, w := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/auth/register", map[string]any{"email": "full@example.com", "password": "password-123", "name": "F"}},
		{"POST", "/api/executions", map[string]any{"workflowId": wf}},
		{"POST", "/api/workflows", map[string]any{"name": "during-full-disk"}},
		{"PATCH", "/api/workflows/" + wf, map[string]any{"description": "changed on a full disk"}},
	} {
		r := h.request(h.admin, w.method, w.path, w.body)
		if r.status < 500 || r.str("code") == "" || r.str("error") == "" {
			t.Errorf("%s %s on a full disk: %d %s, want a 5xx error", w.method, w.path, r.status, r.body)
		}
		if strings.Contains(string(r.body), "no space") || strings.Contains(string(r.body), "/dev/full") {
			t.Errorf("%s %s leaks internals: %s", w.method, w.path, r.body)
		}
	}
	// Health says so; reads still work.
	if r := h.request(anon, "GET", "/api/health", nil); r.status != 503 {
		t.Fatalf("health on a full disk: %d %s", r.status, r.body)
	}
	h.expect(h.admin, "GET", "/api/workflows/"+wf, nil, 200)
	h.expect(h.admin, "GET", "/api/users", nil, 200)

	// Space comes back: writes work again, and health follows.
	free()
	var ok bool
	for i := 0; i < 50 && !ok; i++ {
		r := h.request(h.admin, "POST", "/api/auth/register", map[string]any{"email": "after@example.com", "password": "password-123", "name": "A"})
		ok = r.status == 201
		if !ok {
			time.Sleep(100 * time.Millisecond) // an actor may be restarting after the failure
		}
	}
	if !ok {
		t.Fatal("writes do not recover once the disk has space again")
	}
	h.expect(anon, "GET", "/api/health", nil, 200)
	h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201)
	if r := h.expect(h.admin, "GET", "/api/license/status", nil, 200); r.num("usage.users") != usersBefore+1 {
		t.Errorf("live license usage counts %v users, want %v (a failed write counted?): %s", r.num("usage.users"), usersBefore+1, r.body)
	}

	// After a restart: exactly the acknowledged writes, nothing half-written.
	h.restart()
	if got := h.expect(h.admin, "GET", "/api/users", nil, 200).num("pagination.total"); got != usersBefore+1 {
		t.Errorf("users after restart = %v, want %v", got, usersBefore+1)
	}
	if got := h.expect(h.admin, "GET", "/api/executions/stats", nil, 200).num("total"); got != execsBefore+1 {
		t.Errorf("executions after restart = %v, want %v", got, execsBefore+1)
	}
	h.expectError(anon, "POST", "/api/auth/login", map[string]any{"email": "full@example.com", "password": "password-123"}, 401, "UNAUTHORIZED")
	if r := h.expect(h.admin, "GET", "/api/workflows/"+wf, nil, 200); strings.Contains(string(r.body), "changed on a full disk") {
		t.Errorf("a refused update survived: %s", r.body)
	}
	if r := h.expect(h.admin, "GET", "/api/workflows", nil, 200); strings.Contains(string(r.body), "during-full-disk") {
		t.Errorf("a refused workflow survived: %s", r.body)
	}
	if r := h.expect(h.admin, "GET", "/api/license/status", nil, 200); r.num("usage.users") != usersBefore+1 {
		t.Errorf("license usage counts %v users, want %v: %s", r.num("usage.users"), usersBefore+1, r.body)
	}
}

func TestFaultsKill9KeepsAcknowledgedDecisions(t *testing.T) {
	p := newServerProc(t)
	p.start()
	p.setup()
	statusAs := func(token, method, path string, body any) int {
		t.Helper()
		status, _, err := p.callAs(token, method, path, body)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return status
	}

	// Users: a logout, a disable and a password change, each acknowledged
	// and then the process killed at once.
	for i, email := range []string{"logout@example.com", "disabled@example.com", "pwchange@example.com"} {
		p.must("POST", "/api/auth/register", map[string]any{"email": email, "password": "password-123", "name": fmt.Sprint(i)}, 201)
	}
	loggedOut := p.login("logout@example.com", "password-123")
	disabled := p.login("disabled@example.com", "password-123")
	pwUser := p.login("pwchange@example.com", "password-123")
	pwOther := p.login("pwchange@example.com", "password-123")
	if s := statusAs(loggedOut, "POST", "/api/auth/logout", nil); s != 200 {
		t.Fatalf("logout: %d", s)
	}
	p.crash()
	if s := statusAs(loggedOut, "GET", "/api/auth/me", nil); s != 401 {
		t.Errorf("a token revoked by logout works after kill -9: %d", s)
	}
	_, me, _ := p.callAs(disabled, "GET", "/api/auth/me", nil)
	p.must("PATCH", "/api/users/"+dig2(me, "user.id"), map[string]any{"disabled": true}, 200)
	p.crash()
	if s := statusAs(disabled, "GET", "/api/auth/me", nil); s != 401 {
		t.Errorf("a disabled user's token works after kill -9: %d", s)
	}
	if s := statusAs(pwUser, "POST", "/api/auth/password", map[string]any{"currentPassword": "password-123", "newPassword": "password-456"}); s != 200 {
		t.Fatalf("password change: %d", s)
	}
	p.crash()
	if s := statusAs(pwOther, "GET", "/api/auth/me", nil); s != 401 {
		t.Errorf("another token of a user who changed their password works after kill -9: %d", s)
	}
	if s, _, _ := p.callAs("", "POST", "/api/auth/login", map[string]any{"email": "pwchange@example.com", "password": "password-123"}); s != 401 {
		t.Errorf("the old password works after kill -9: %d", s)
	}
	p.login("pwchange@example.com", "password-456")

	// Runners: a regenerated secret, then a deleted runner.
	creds := p.must("POST", "/api/runners/register", map[string]any{"name": "crash-runner", "type": "UNATTENDED"}, 201)
	rid, key, oldSecret := dig2(creds, "id"), dig2(creds, "machineKey"), dig2(creds, "machineSecret")
	oldToken := dig2(p.must("POST", "/api/runners/authenticate", map[string]any{"machineKey": key, "machineSecret": oldSecret}, 200), "token")
	newSecret := dig2(p.must("POST", "/api/runners/"+rid+"/regenerate-secret", nil, 200), "machineSecret")
	p.crash()
	if s := statusAs(oldToken, "POST", "/api/runners/heartbeat", map[string]any{}); s != 401 {
		t.Errorf("a runner token from before regenerate-secret works after kill -9: %d", s)
	}
	if s := statusAs("", "POST", "/api/runners/authenticate", map[string]any{"machineKey": key, "machineSecret": oldSecret}); s != 401 {
		t.Errorf("the old machine secret works after kill -9: %d", s)
	}
	newToken := dig2(p.must("POST", "/api/runners/authenticate", map[string]any{"machineKey": key, "machineSecret": newSecret}, 200), "token")
	p.must("DELETE", "/api/runners/"+rid, nil, 200)
	p.crash()
	if s := statusAs(newToken, "POST", "/api/runners/heartbeat", map[string]any{}); s != 401 {
		t.Errorf("a deleted runner's token works after kill -9: %d", s)
	}

	// Version numbers: concurrent draft saves, a crash, and the next save
	// still gets a number above every acknowledged one (numbers never repeat).
	wf := dig2(p.must("POST", "/api/workflows", map[string]any{"name": "numbers"}, 201), "workflow.id")
	graph := `{"nodes":[{"id":"s","type":"start"}],"edges":[]}`
	var (
		mu      sync.Mutex
		numbers = map[float64]string{}
		wg      sync.WaitGroup
	)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 60; i++ {
				status, out, err := p.call("POST", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": graph})
				if err != nil {
					return
				}
				if status == 201 {
					n, _ := dig(out, "version.number").(float64)
					mu.Lock()
					if prev, dup := numbers[n]; dup {
						t.Errorf("version number %v given twice (%s and %s)", n, prev, dig2(out, "version.id"))
					}
					numbers[n] = dig2(out, "version.id")
					mu.Unlock()
				}
			}
		}()
	}
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
		mu.Lock()
		n := len(numbers)
		mu.Unlock()
		if n >= 150 {
			break
		}
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	wg.Wait()
	_ = p.waitExit(10 * time.Second)
	p.start()
	maxAcked := 0.0
	for n := range numbers {
		maxAcked = max(maxAcked, n)
	}
	versions := p.must("GET", "/api/workflows/"+wf+"/versions", nil, 200)
	list, _ := versions["versions"].([]any)
	stored := map[string]bool{}
	for _, v := range list {
		stored[v.(map[string]any)["id"].(string)] = true
	}
	for n, id := range numbers {
		if !stored[id] {
			t.Errorf("acknowledged version %v (%s) is gone after kill -9", n, id)
		}
	}
	next := p.must("POST", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": graph}, 201)
	if n, _ := dig(next, "version.number").(float64); n <= maxAcked {
		t.Errorf("after kill -9 the next version is number %v, not above the acknowledged %v", n, maxAcked)
	}
	t.Logf("%d drafts acknowledged before the kill, %d stored", len(numbers), len(list))

	// Duplicate detection survives a crash: the same Idempotency-Key (or
	// dedupeKey) answers the execution created before the kill.
	p.must("POST", "/api/workflows/"+wf+"/publish", nil, 200)
	status, out, err := p.call("POST", "/api/executions", map[string]any{"workflowId": wf}, "Idempotency-Key", "crash-key-1")
	if err != nil || status != 201 {
		t.Fatalf("create with Idempotency-Key: %d %v %v", status, out, err)
	}
	first := dig2(out, "execution.id")
	byField := dig2(p.must("POST", "/api/executions", map[string]any{"workflowId": wf, "dedupeKey": "crash-key-2"}, 201), "execution.id")
	p.crash()
	status, out, err = p.call("POST", "/api/executions", map[string]any{"workflowId": wf}, "Idempotency-Key", "crash-key-1")
	if err != nil || status != 200 || dig2(out, "execution.id") != first {
		t.Errorf("idempotent repeat after kill -9: %d %v %v, want 200 with %s", status, out, err, first)
	}
	status, out, err = p.call("POST", "/api/executions", map[string]any{"workflowId": wf, "dedupeKey": "crash-key-2"})
	if err != nil || status != 200 || dig2(out, "execution.id") != byField {
		t.Errorf("dedupeKey repeat after kill -9: %d %v %v, want 200 with %s", status, out, err, byField)
	}
	p.terminate()
}

// TestFaultsRealFullDiskTmpfs runs the binary on a tiny tmpfs and fills it
// for real (ENOSPC from the kernel, not an injected error). It needs root
// and mount rights: elsewhere it skips (TestFaultsFullDisk and
// storage.TestFullDiskFailsCommitsAtomically cover the same ground with an
// injected /dev/full descriptor).
func TestFaultsRealFullDiskTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	p := newServerProc(t)
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.MkdirAll(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		p.kill()
		if out, err := exec.Command("umount", "-l", mnt).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v %s", mnt, err, out)
		}
	})
	p.dir = filepath.Join(mnt, "data")
	p.start()
	p.setup()
	wf := dig2(p.must("POST", "/api/workflows", map[string]any{"name": "tmpfs"}, 201), "workflow.id")
	graph := `{"nodes":[{"id":"s","type":"start"}],"edges":[]}`
	p.must("POST", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": graph}, 201)
	p.must("POST", "/api/workflows/"+wf+"/publish", nil, 200)

	// Fill the file system to the last block.
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()

	// Large writes until the server refuses one (bounded).
	big := strings.Repeat("x", 512<<10)
	var acked []string
	failed := 0
	for i := 0; i < 120 && failed == 0; i++ {
		status, out, err := p.call("POST", "/api/executions", map[string]any{"workflowId": wf, "input": map[string]any{"blob": big, "i": i}})
		if err != nil {
			t.Fatalf("request %d: %v\n%s", i, err, p.stderr.String())
		}
		switch {
		case status == 201:
			acked = append(acked, dig2(out, "execution.id"))
		case status >= 500:
			failed++
			t.Logf("refused on a full disk: %d %v (server log: %s)", status, out, lastLine(p.stderr.String()))
			if dig2(out, "code") == "" || strings.Contains(fmt.Sprint(out), "no space") {
				t.Errorf("full-disk answer: %d %v", status, out)
			}
		default:
			t.Fatalf("request %d: %d %v", i, status, out)
		}
	}
	if failed == 0 {
		t.Fatalf("%d large writes all succeeded on a full 24 MiB file system", len(acked))
	}
	if status, _, err := p.call("GET", "/api/health", nil); err != nil || status != 503 {
		t.Errorf("health on a full disk: %d %v", status, err)
	}
	t.Logf("%d writes acknowledged before the disk was full", len(acked))

	// Free the space: writes work again, health follows.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	var recovered bool
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end) && !recovered; {
		status, out, err := p.call("POST", "/api/executions", map[string]any{"workflowId": wf})
		if err == nil && status == 201 {
			recovered = true
			acked = append(acked, dig2(out, "execution.id"))
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !recovered {
		t.Fatalf("writes do not recover once space is freed\n%s", p.stderr.String())
	}
	if status, _, _ := p.call("GET", "/api/health", nil); status != 200 {
		t.Errorf("health after recovery: %d", status)
	}

	// Kill -9 and restart: exactly the acknowledged executions.
	p.crash()
	for _, id := range acked {
		if s := dig2(p.must("GET", "/api/executions/"+id, nil, 200), "execution.status"); s != "QUEUED" {
			t.Errorf("execution %s is %s", id, s)
		}
	}
	if total, _ := p.must("GET", "/api/executions/stats", nil, 200)["total"].(float64); int(total) != len(acked) {
		t.Errorf("stats total %v after restart, want %d acknowledged", total, len(acked))
	}
	p.terminate()
}

// TestFaultsLostAssignmentAfterCrash reproduces, deterministically, the
// crash window the burst test hits now and then: the execution's ASSIGNED
// state is durable, the runner's own record is not yet, and the process
// dies. It writes exactly that state with the server stopped, restarts, and
// expects the runner's next poll to get that execution back (docs/api.md, "Conventions"), not
// a second one.
func TestFaultsLostAssignmentAfterCrash(t *testing.T) {
	h := newHarness(t)
	wf := h.publishedWorkflow(h.admin, "lost-assignment")
	rn := h.secRunner("lost-runner", "UNATTENDED")
	if rn == nil {
		t.Skip("runner routes are not served")
	}
	h.expect(&client{token: rn.token}, "POST", "/api/runners/heartbeat", map[string]any{}, 200)
	x := h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf, "priority": "HIGH"}, 201).str("execution.id")
	y := h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf, "priority": "LOW"}, 201).str("execution.id")

	// The crash window: X became ASSIGNED to the runner on disk; nothing else did.
	h.stop()
	st, err := storage.Open(h.cfg.DataDir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := st.GetExecution(x)
	if err != nil || e == nil {
		t.Fatalf("read %s: %v %v", x, e, err)
	}
	rid := rn.id
	e.Status, e.RunnerID, e.AssignedAt = messages.ExecAssigned, &rid, messages.TimeOf(time.Now())
	if err := st.SaveExecution(e, messages.ExecQueued, "", messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	h.cfg.Addr = "127.0.0.1:0"
	h.start()

	rc := &client{token: rn.token}
	h.expect(rc, "POST", "/api/runners/heartbeat", map[string]any{}, 200)
	got := h.expect(rc, "POST", "/api/runners/poll", map[string]any{}, 200).str("execution.id")
	if got != x {
		ys := h.expect(h.admin, "GET", "/api/executions/"+y, nil, 200).str("execution.status")
		msg := fmt.Sprintf("after the crash the runner polled %q, want its durable assignment %s (the other execution %s is now %s: two executions ASSIGNED to one runner, and %s is stuck while the runner stays ONLINE)", got, x, y, ys, x)
		t.Fatal(msg)
	}
}
