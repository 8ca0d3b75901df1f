package storage

import (
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

func testRunner(name string, at time.Time) *messages.Runner {
	return &messages.Runner{ID: messages.NewID(at), Name: name, MachineKey: "FC-" + messages.RandomHex(16),
		Type: messages.RunnerUnattended, Status: messages.RunnerOffline, CreatedAt: messages.TimeOf(at),
		SecretHash: "hash-" + name, SecretEpoch: 1}
}

func TestRunnersCloseAndReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	a := testRunner("alpha", now)
	b := testRunner("beta", now.Add(time.Millisecond))
	b.Type = messages.RunnerAttended
	for _, r := range []*messages.Runner{a, b} {
		if err := s.CreateRunner(r, messages.Effects{}); err != nil {
			t.Fatal(err)
		}
	}
	dup := testRunner(" ALPHA ", now.Add(2*time.Millisecond))
	if err := s.CreateRunner(dup, messages.Effects{}); messages.ErrorCode(err) != messages.CodeConflict {
		t.Fatalf("duplicate name: %v, want CONFLICT", err)
	}
	a.Status, a.LastHeartbeatAt, a.IPAddress, a.SecretEpoch = messages.RunnerOnline, messages.TimeOf(now), "10.0.0.1", 2
	if err := s.SaveRunner(a, messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	b.Metrics = []byte(`{"cpu":1}`)
	s.SaveRunnerAsync(b, messages.Effects{}, func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTest(t, dir)
	got, err := s.GetRunner(a.ID)
	if err != nil || got == nil {
		t.Fatalf("get: %v %v", got, err)
	}
	if got.Status != messages.RunnerOnline || got.SecretEpoch != 2 || got.SecretHash != "hash-alpha" || got.IPAddress != "10.0.0.1" {
		t.Fatalf("reopened runner: %+v", got)
	}
	all, err := s.AllRunners()
	if err != nil || len(all) != 2 {
		t.Fatalf("all: %d %v", len(all), err)
	}
	list, total, err := s.ListRunners(messages.RunnerFilter{}, messages.Page{Page: 1, Limit: 50})
	if err != nil || total != 2 || list[0].ID != b.ID || list[0].SecretHash != "" || string(list[0].Metrics) != `{"cpu":1}` {
		t.Fatalf("list: %v %d %v", list, total, err)
	}
	list, total, _ = s.ListRunners(messages.RunnerFilter{Type: messages.RunnerAttended}, messages.Page{Page: 1, Limit: 50})
	if total != 1 || list[0].ID != b.ID {
		t.Fatalf("filter type: %d", total)
	}
	_, total, _ = s.ListRunners(messages.RunnerFilter{Status: messages.RunnerOnline}, messages.Page{Page: 1, Limit: 50})
	if total != 1 {
		t.Fatalf("filter status: %d", total)
	}
	if err := s.DeleteRunner(a.ID, messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRunner(a.ID, messages.Effects{}); messages.ErrorCode(err) != messages.CodeNotFound {
		t.Fatalf("second delete: %v", err)
	}
	if err := s.SaveRunner(a, messages.Effects{}); messages.ErrorCode(err) != messages.CodeNotFound {
		t.Fatalf("save deleted: %v", err)
	}
	// The name is free again.
	if err := s.CreateRunner(testRunner("alpha", now.Add(3*time.Millisecond)), messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	procs, err := s.RunnerProcesses()
	if err != nil || len(procs) != 0 {
		t.Fatalf("processes: %v %v", procs, err)
	}
}
