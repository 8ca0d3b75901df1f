package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/storage"
)

// End-to-end tests of poisoned data (docs/decisions.md, "Nesting" and
// "Records that cannot be decoded"): no body the server accepts makes
// stored data unreadable, and a database holding records that cannot be
// decoded starts, serves, counts them and keeps their bytes.

// nestedJSON is an object nested depth levels deep ({} is 1).
func nestedJSON(depth int) string {
	return strings.Repeat(`{"a":`, depth-1) + "{}" + strings.Repeat("}", depth-1)
}

func TestE2ENestingLimit(t *testing.T) {
	h := newHarness(t)
	wf := h.publishedWorkflow(h.admin, "deep")
	r := h.expect(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK"}, 201)
	hook := "/api/triggers/webhook/" + r.str("trigger.id")

	// The body that used to poison the database: 10,000 levels passed
	// json.Valid, and the stored execution (one level more) could no longer
	// be decoded: every list answered 500 and the next start hung.
	for _, depth := range []int{129, 10000, 100000} {
		h.expectError(anon, "POST", hook, nestedJSON(depth), 400, "VALIDATION_ERROR")
		h.expectError(h.admin, "POST", "/api/executions", `{"workflowId":"`+wf+`","input":`+nestedJSON(depth)+`}`, 400, "VALIDATION_ERROR")
	}
	// 128 levels are fine, as a webhook body and as an execution's input.
	h.expect(anon, "POST", hook, nestedJSON(128), 200)
	h.expect(h.admin, "POST", "/api/executions", `{"workflowId":"`+wf+`","input":`+nestedJSON(128)+`}`, 201)
	// graphJson text, trigger config (text and object) and any body
	deepGraph := `{"nodes":[],"edges":[],"x":` + nestedJSON(128) + `}`
	h.expectError(h.admin, "POST", "/api/workflows/"+wf+"/draft", map[string]any{"graphJson": deepGraph}, 400, "VALIDATION_ERROR")
	h.expectError(h.admin, "POST", "/api/triggers", `{"workflowId":"`+wf+`","type":"WEBHOOK","config":`+nestedJSON(129)+`}`, 400, "VALIDATION_ERROR")
	h.expectError(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK", "config": nestedJSON(129)}, 400, "VALIDATION_ERROR")
	h.expectError(h.admin, "POST", "/api/workflows", `{"name":"x","description":"d","extra":`+nestedJSON(200)+`}`, 400, "VALIDATION_ERROR")
	// Brackets inside strings are not nesting.
	h.expect(anon, "POST", hook, `{"text":"`+strings.Repeat("[{", 5000)+`"}`, 200)

	r = h.expect(h.admin, "GET", "/api/executions?limit=200", nil, 200)
	if n := len(r.json["executions"].([]any)); n != 3 {
		t.Fatalf("executions: %d, want 3: %.300s", n, r.body)
	}
	done := make(chan struct{})
	go func() { defer close(done); h.restart() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the restart hangs")
	}
	h.expect(h.admin, "GET", "/api/executions", nil, 200)
}

// poisonBuckets writes a value that is not a record under a new key into
// every bucket of the database (and a QUEUED and a RUNNING execution whose
// input is too deep to decode, indexed as such), and returns the record
// bytes the server must quarantine, by quarantine key.
func poisonBuckets(t *testing.T, path string) map[string][]byte {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	records := map[string]bool{"users": true, "audit": true, "workflows": true, "versions": true, "executions": true,
		"runners": true, "triggers": true, "analytics": true, "analytics_runs": true, "assets": true, "api_keys": true, "events": true, "subscriptions": true,
		"deliveries": true}
	want := map[string][]byte{}
	err = db.Update(func(tx *bbolt.Tx) error {
		deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
		for i, st := range []string{"QUEUED", "RUNNING"} {
			id := strings.Repeat("z", 40) + string(rune('0'+i))
			v := []byte(`{"id":"` + id + `","workflowId":"w","status":"` + st + `","priority":"NORMAL","input":` + deep + `}`)
			if err := tx.Bucket([]byte("executions")).Put([]byte(id), v); err != nil {
				return err
			}
			if err := tx.Bucket([]byte("exec_by_status")).Put([]byte(st+"\x00"+id), nil); err != nil {
				return err
			}
			want["executions/"+id] = v
		}
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			if string(name) == "quarantine" {
				return nil
			}
			key := []byte("\xff\xffgarbage-" + string(name))
			v := []byte("\x00{not a record of " + string(name))
			if records[string(name)] {
				want[string(name)+"/"+string(key)] = v
			} else if string(name) != "meta" {
				// indexes and counters also get a key shorter than theirs
				if err := b.Put([]byte{1}, v); err != nil {
					return err
				}
			}
			return b.Put(key, v)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return want
}

func TestE2EPoisonedDatabaseServes(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RetentionDays = 30 })
	wf := h.publishedWorkflow(h.admin, "poisoned")
	r := h.expect(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK"}, 201)
	hook := "/api/triggers/webhook/" + r.str("trigger.id")
	h.expect(anon, "POST", hook, `{"a":1}`, 200)
	rn := h.rnOnline("poisoned-runner", "")
	exec := h.rnQueue(wf)
	key := h.expect(h.admin, "POST", "/api/auth/api-keys", map[string]any{"name": "poisoned"}, 201)
	h.stop()

	want := poisonBuckets(t, filepath.Join(h.cfg.DataDir, storage.FileName))
	done := make(chan struct{})
	go func() { defer close(done); h.restart() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the start hangs on a poisoned database")
	}

	// It serves: every list and the data that is fine.
	for _, path := range []string{"/api/executions", "/api/executions?status=QUEUED", "/api/executions?status=RUNNING&workflowId=w",
		"/api/executions/stats", "/api/runners", "/api/triggers", "/api/workflows", "/api/users", "/api/audit", "/api/assets", "/api/auth/api-keys",
		"/api/analytics/process-performance", "/api/workflows/" + wf, "/api/executions/" + exec, "/api/runners/" + rn.id} {
		h.expect(h.admin, "GET", path, nil, 200)
	}
	h.expectError(h.admin, "GET", "/api/executions/"+strings.Repeat("z", 40)+"0", nil, 404, "NOT_FOUND")
	if tok := key.str("key"); tok != "" {
		h.expect(&client{token: tok}, "GET", "/api/auth/me", nil, 200) // the API key still works
	}
	h.expect(anon, "POST", hook, `{"a":2}`, 200)
	h.expect(h.admin, "POST", "/api/executions", map[string]any{"workflowId": wf}, 201)
	if id := h.pollID(rn.c); id == "" || strings.HasPrefix(id, "zzz") {
		t.Fatalf("poll after the poisoned start: %q", id)
	}

	// It counts them, on health and /metrics.
	h.rnEventually("the quarantine count", func() bool {
		return h.expect(anon, "GET", "/api/health", nil, 200).num("quarantined") == float64(len(want))
	})
	if got := h.scrape()["exekra_storage_quarantined_records"]; got != float64(len(want)) {
		t.Fatalf("metrics: %v, want %d", got, len(want))
	}
	// The log says so without trigger ids.
	if logs := h.logs.String(); !strings.Contains(logs, "quarantined a stored record") || strings.Contains(logs, "garbage-triggers") {
		t.Fatalf("logs: %s", logs)
	}

	// And it keeps them: same bytes, out of their buckets; a restart
	// counts the same.
	h.restart()
	if n := h.expect(anon, "GET", "/api/health", nil, 200).num("quarantined"); n != float64(len(want)) {
		t.Fatalf("after restart: %v", n)
	}
	h.stop()
	db, err := bbolt.Open(filepath.Join(h.cfg.DataDir, storage.FileName), 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bbolt.Tx) error {
		q := tx.Bucket([]byte("quarantine"))
		for k, v := range want {
			if got := q.Get([]byte(k)); !bytes.Equal(got, v) {
				t.Errorf("quarantine %q: %.40q", k, got)
			}
			name, key, _ := strings.Cut(k, "/")
			if tx.Bucket([]byte(name)).Get([]byte(key)) != nil {
				t.Errorf("%q is still in its bucket", k)
			}
		}
		if n := q.Stats().KeyN; n != len(want) {
			t.Errorf("quarantine holds %d records, want %d", n, len(want))
		}
		return nil
	})
}

func TestE2EGarbageLicenseStarts(t *testing.T) {
	h := newHarness(t)
	h.stop()
	db, err := bbolt.Open(filepath.Join(h.cfg.DataDir, storage.FileName), 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("license"), []byte("\x00garbage."+strings.Repeat("[", 20000)))
	}); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	h.restart()
	h.expect(anon, "GET", "/api/health", nil, 200)
	if r := h.expect(anon, "GET", "/api/status", nil, 200); r.str("state") == "" {
		t.Fatalf("status: %s", r.body)
	}
	// The admin can put a good license back.
	h.expect(h.admin, "PUT", "/api/license", map[string]any{"license": h.issueLicense(licenseOpts{})}, 200)
}

func TestE2EHeadersTooLargeAnd431(t *testing.T) {
	h := newHarness(t)
	r := h.request(anon, "GET", "/api/health", nil, "X-Big", strings.Repeat("b", 8<<10))
	if r.status != 431 || r.str("code") != "REQUEST_HEADERS_TOO_LARGE" || r.str("error") == "" {
		t.Fatalf("big headers: %d %s", r.status, r.body)
	}
	h.expect(anon, "GET", "/api/health", nil, 200, "X-Small", strings.Repeat("s", 1<<10))
}

func TestE2EOptionsAnswers204WithAllow(t *testing.T) {
	h := newHarness(t)
	for path, allow := range map[string]string{
		"/api/workflows":            "GET, OPTIONS, POST",
		"/api/workflows/abc":        "DELETE, GET, OPTIONS, PATCH, PUT",
		"/api/triggers/webhook/abc": "OPTIONS, POST",
		"/api/health":               "GET, OPTIONS",
	} {
		r := h.request(anon, "OPTIONS", path, nil)
		if r.status != 204 || r.header.Get("Allow") != allow || len(r.body) != 0 {
			t.Errorf("OPTIONS %s: %d Allow %q %q, want 204 Allow %q", path, r.status, r.header.Get("Allow"), r.body, allow)
		}
	}
	h.expectError(anon, "OPTIONS", "/api/nope", nil, 404, "NOT_FOUND")
	// Wrong methods stay 405 with Allow.
	if r := h.expectError(anon, "PUT", "/api/health", nil, 405, "METHOD_NOT_ALLOWED"); r.header.Get("Allow") != "GET, OPTIONS" {
		t.Fatalf("405 Allow: %q", r.header.Get("Allow"))
	}
}

// TestE2EDebugLogHasNoTriggerIDs: a trigger id is its webhook's credential,
// so no log line shows one, at debug level either, whatever the request.
func TestE2EDebugLogHasNoTriggerIDs(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.LogLevel = "debug" })
	wf := h.publishedWorkflow(h.admin, "logged")
	r := h.expect(h.admin, "POST", "/api/triggers", map[string]any{"workflowId": wf, "type": "WEBHOOK", "config": `{"rateLimit":1}`}, 201)
	id := r.str("trigger.id")
	hook := "/api/triggers/webhook/" + id
	h.expect(anon, "POST", hook, `{"a":1}`, 200)
	h.expectError(anon, "POST", hook, `{"a":1}`, 429, "RATE_LIMITED")
	h.expectError(anon, "POST", hook, `{bad`, 400, "VALIDATION_ERROR")
	h.expectError(anon, "GET", hook, nil, 405, "METHOD_NOT_ALLOWED")
	h.request(anon, "OPTIONS", hook, nil)
	h.request(anon, "POST", hook+"?x=1", nil, "X-Big", strings.Repeat("b", 8<<10))
	h.expect(h.admin, "GET", "/api/triggers/"+id, nil, 200)
	h.expect(h.admin, "PATCH", "/api/triggers/"+id, map[string]any{"enabled": false}, 200)
	h.expectError(anon, "POST", hook, `{"a":1}`, 403, "FORBIDDEN")
	h.expectError(anon, "POST", hook+"/extra", `{}`, 404, "NOT_FOUND")
	// A malformed request line naming the webhook.
	if conn, err := net.Dial("tcp", strings.TrimPrefix(h.base, "http://")); err == nil {
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n", hook)
		_, _ = io.ReadAll(conn)
		conn.Close()
	}
	h.expect(h.admin, "DELETE", "/api/triggers/"+id, nil, 200)
	h.restart()
	h.expectError(anon, "POST", hook, `{}`, 404, "NOT_FOUND")
	h.stop()
	logs := h.logs.String()
	if !strings.Contains(logs, "level=DEBUG") {
		t.Fatal("no debug lines were logged")
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, id) || strings.Contains(line, id[:20]) {
			t.Errorf("a log line shows the trigger id: %s", line)
		}
	}
}
