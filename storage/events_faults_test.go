//go:build linux

package storage

import (
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

// The full-disk fault (faults_test.go) is Linux-only.

func TestEventsNothingForAFailedCommit(t *testing.T) {
	s := openTest(t, t.TempDir())
	sink := &sinkForTest{}
	s.SetEventSink(sink.take)
	wf := putWorkflowForTest(t, s, "wf", true)
	before, _ := s.CountEvents()
	free := diskFull(t, s)
	if _, _, err := s.CreateExecution(newExec(wf.ID, time.Now(), messages.PriorityNormal), ""); err == nil {
		t.Fatal("a creation on a full disk succeeded")
	}
	free()
	if got := sink.events(); len(got) != 0 {
		t.Fatalf("a failed commit published %d events", len(got))
	}
	if n, _ := s.CountEvents(); n != before {
		t.Fatalf("a failed commit stored events: %d → %d", before, n)
	}
	// The numbers it took are handed out again: no gap.
	last := s.LastEventSeq()
	if _, _, err := s.CreateExecution(newExec(wf.ID, time.Now(), messages.PriorityNormal), ""); err != nil {
		t.Fatal(err)
	}
	if got := sink.events(); len(got) != 1 || got[0].Seq != last+1 {
		t.Fatalf("after the failure: %+v (last %d)", got, last)
	}
}
