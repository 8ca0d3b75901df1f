package storage

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// waitQuarantined waits (bounded) until the store counts want records.
func waitQuarantined(t *testing.T, s *Store, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.Quarantined() != want {
		if time.Now().After(deadline) {
			t.Fatalf("quarantined %d, want %d", s.Quarantined(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// deepInput is an execution input nested past encoding/json's limit once
// it sits inside the stored execution (what one webhook could store before
// nesting was limited).
func deepInput() string {
	return strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
}

func TestQuarantineAtOpenAndOnRead(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	now := time.Now()
	wf := putWorkflowForTest(t, s, "wf", true)
	good := newExec(wf.ID, now, messages.PriorityNormal)
	good.VersionID = string(wf.PublishedVersionID)
	if _, _, err := s.CreateExecution(good, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(testUser("u@example.com", now), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRunner(testRunner("r1", now), messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	tr := &messages.Trigger{ID: messages.NewID(now), WorkflowID: wf.ID, Type: messages.TriggerWebhook, Config: "{}", Enabled: true}
	if err := s.CreateTrigger(tr, "s3cret", messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Garbage in every record bucket, written behind the store's back: a
	// QUEUED execution (indexed) whose input is too deep to decode, and a
	// value that is not a record at all in each bucket.
	badExecID := messages.NewID(now.Add(time.Millisecond))
	deepExec := []byte(`{"id":"` + badExecID + `","workflowId":"` + wf.ID + `","status":"QUEUED","priority":"NORMAL","input":` + deepInput() + `}`)
	bad := map[string][]byte{}
	db, err := bbolt.Open(dir+"/"+FileName, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketExecutions).Put([]byte(badExecID), deepExec); err != nil {
			return err
		}
		bad["executions/"+badExecID] = deepExec
		for _, k := range [][]byte{joinKey("QUEUED", badExecID), joinKey(wf.ID, badExecID)} {
			b := bucketExecByStatus
			if !bytes.HasPrefix(k, []byte("QUEUED")) {
				b = bucketExecByWorkflow
			}
			if err := tx.Bucket(b).Put(k, nil); err != nil {
				return err
			}
		}
		for name := range recordChecks {
			key := messages.NewID(now.Add(2 * time.Millisecond))
			if name == string(bucketAnalytics) {
				key += "\x00\x00\x4e\x20"
			}
			v := []byte("\x00not a record {" + name)
			if err := tx.Bucket([]byte(name)).Put([]byte(key), v); err != nil {
				return err
			}
			bad[name+"/"+key] = v
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTestStore(t, dir)
	defer s.Close()
	// Reads skip the bad records, before the sweep has moved them or after.
	if ex, total, err := s.ListExecutions(messages.ExecutionFilter{}, messages.Page{Page: 1, Limit: 50}); err != nil || len(ex) != 1 || ex[0].ID != good.ID {
		t.Fatalf("list executions: %v %d %v", ex, total, err)
	}
	if ex, _, err := s.ListExecutions(messages.ExecutionFilter{Status: messages.ExecQueued, WorkflowID: wf.ID}, messages.Page{Page: 1, Limit: 50}); err != nil || len(ex) != 1 {
		t.Fatalf("filtered list: %v %v", ex, err)
	}
	if q, err := s.QueuedExecutions(); err != nil || len(q) != 1 {
		t.Fatalf("queued: %v %v", q, err)
	}
	if e, err := s.GetExecution(badExecID); err != nil || e != nil {
		t.Fatalf("get bad execution: %v %v", e, err)
	}
	if rs, err := s.AllRunners(); err != nil || len(rs) != 1 {
		t.Fatalf("runners: %v %v", rs, err)
	}
	if us, err := s.AllUsers(); err != nil || len(us) != 1 {
		t.Fatalf("users: %v %v", us, err)
	}
	if ts, err := s.AllTriggers(); err != nil || len(ts) != 1 || ts[0].Secret != "s3cret" {
		t.Fatalf("triggers: %v %v", ts, err)
	}
	if _, _, err := s.ListAudit(messages.Page{Page: 1, Limit: 50}); err != nil {
		t.Fatal(err)
	}
	if ws, _, err := s.ListWorkflows(messages.Page{Page: 1, Limit: 50}); err != nil || len(ws) != 1 {
		t.Fatalf("workflows: %v %v", ws, err)
	}
	if _, err := s.ProcessPerformance(0, 0); err != nil {
		t.Fatal(err)
	}

	// The sweep moves every bad record aside, bytes as found.
	s.SweepQuarantine()
	waitQuarantined(t, s, int64(len(bad)))
	err = s.view(func(tx *bbolt.Tx) error {
		q := tx.Bucket(bucketQuarantine)
		for k, v := range bad {
			if got := q.Get([]byte(k)); !bytes.Equal(got, v) {
				t.Errorf("quarantine %q: %.40q, want %.40q", k, got, v)
			}
			name, key, _ := strings.Cut(k, "/")
			if tx.Bucket([]byte(name)).Get([]byte(key)) != nil {
				t.Errorf("%s still in its bucket", k)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// A bad record written later is moved by the read that meets it.
	lateID := messages.NewID(now.Add(3 * time.Millisecond))
	if err := s.update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketAudit).Put([]byte(lateID), []byte(`{"id":1}`))
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ListAudit(messages.Page{Page: 1, Limit: 50}); err != nil {
		t.Fatal(err)
	}
	waitQuarantined(t, s, int64(len(bad))+1)

	// A good write over a reported key is not moved.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openTestStore(t, dir)
	defer s2.Close()
	if s2.Quarantined() != int64(len(bad))+1 {
		t.Fatalf("after reopen: %d", s2.Quarantined())
	}
}

func TestQuarantineKeepsRepeatedKeysApart(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	waitQuarantined(t, s, 0)
	for i, v := range []string{"bad one", "bad two"} {
		if err := s.update(func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketUsers).Put([]byte("u1"), []byte(v))
		}); err != nil {
			t.Fatal(err)
		}
		if u, err := s.GetUser("u1"); err != nil || u != nil {
			t.Fatalf("get: %v %v", u, err)
		}
		waitQuarantined(t, s, int64(i+1))
	}
	_ = s.view(func(tx *bbolt.Tx) error {
		q := tx.Bucket(bucketQuarantine)
		if string(q.Get([]byte("users/u1"))) != "bad one" || string(q.Get([]byte("users/u1~2"))) != "bad two" {
			t.Fatalf("quarantine keys: %q %q", q.Get([]byte("users/u1")), q.Get([]byte("users/u1~2")))
		}
		return nil
	})
}

func TestFoldAnalyticsReplacesBadDay(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	waitQuarantined(t, s, 0)
	now := time.Now()
	e := newExec("wf-a", now, messages.PriorityNormal)
	e.Status, e.CompletedAt = messages.ExecCompleted, messages.TimeOf(now)
	key := analyticsKey(e.WorkflowID, dayNumber(e.CreatedAt))
	if err := s.update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketAnalytics).Put(key, []byte("junk")) }); err != nil {
		t.Fatal(err)
	}
	if err := s.update(func(tx *bbolt.Tx) error { return foldAnalyticsTx(tx, e) }); err != nil {
		t.Fatalf("a bad day blocked a finish: %v", err)
	}
	waitQuarantined(t, s, 1)
}

func TestLogKeyRedactsTriggerIDs(t *testing.T) {
	id := messages.NewID(time.Now())
	if got := logKey(bucketTriggers, []byte(id)); strings.Contains(got, id[6:]) {
		t.Fatalf("trigger id in log key: %s", got)
	}
	if got := logKey(bucketUsers, []byte("u1")); got != `"u1"` {
		t.Fatal(got)
	}
}

func TestQuarantineSweepCrossesChunks(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	const good = 3*sweepChunk + 17
	err := s.update(func(tx *bbolt.Tx) error {
		for i := 0; i < good; i++ {
			id := messages.NewID(time.Unix(int64(1_700_000_000+i), 0))
			if err := putTx(tx, bucketAudit, id, &messages.AuditEntry{ID: id}); err != nil {
				return err
			}
			if i%sweepChunk == sweepChunk-1 { // a bad one right after each chunk's end
				if err := tx.Bucket(bucketAudit).Put([]byte(id+"~bad"), []byte("{")); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	defer s.Close()
	if s.Quarantined() != 0 {
		t.Fatal("swept before SweepQuarantine")
	}
	s.SweepQuarantine()
	s.SweepQuarantine() // once only
	waitQuarantined(t, s, 3)
	_ = s.view(func(tx *bbolt.Tx) error {
		if n := tx.Bucket(bucketAudit).Stats().KeyN; n != good {
			t.Fatalf("audit keeps %d, want %d", n, good)
		}
		return nil
	})
}

// TestProcessPerformanceSkipsForeignKeys: an analytics key that this
// package never writes (a day whose first byte is not zero) made the
// workflow walk seek back to it for ever; the answer hung.
func TestProcessPerformanceSkipsForeignKeys(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	now := time.Now()
	e := newExec("wf-a", now, messages.PriorityNormal)
	e.Status, e.CompletedAt = messages.ExecCompleted, messages.TimeOf(now)
	if err := s.update(func(tx *bbolt.Tx) error {
		if err := foldAnalyticsTx(tx, e); err != nil {
			return err
		}
		// sorts before wf-a's keys, and its "day" is "tics"
		return tx.Bucket(bucketAnalytics).Put([]byte("garbage-analytics"), []byte("\x00junk"))
	}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var out []messages.WorkflowPerformance
	go func() {
		var err error
		out, err = s.ProcessPerformance(0, 0)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil || len(out) != 1 || out[0].WorkflowID != "wf-a" {
			t.Fatalf("%v %+v", err, out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ProcessPerformance does not return")
	}
}
