package loadgen

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// recount is what ownCountsLocked must return, counted from the maps.
func recount(b *workBook) (created, finished, completed int) {
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

// TestWorkBookCountsFollowTheMaps drives a book through creations and
// outcomes in random order — an execution run before its creator read the
// 201, a report that failed and succeeded on the next try, foreign
// executions — and compares the kept counts with a recount after each step.
func TestWorkBookCountsFollowTheMaps(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	b := newWorkBook()
	failed := errors.New("report failed")
	for step := range 5000 {
		id := fmt.Sprintf("x%d", r.IntN(400))
		switch r.IntN(3) {
		case 0:
			b.noteCreated(id, time.Now(), "NORMAL")
		case 1:
			b.noteFinished(id, nil)
		default:
			b.noteFinished(id, failed)
		}
		b.mu.Lock()
		gc, gf, gd := b.ownCountsLocked()
		wc, wf, wd := recount(b)
		b.mu.Unlock()
		if gc != wc || gf != wf || gd != wd {
			t.Fatalf("step %d: counts (created, finished, completed) %d %d %d, want %d %d %d", step, gc, gf, gd, wc, wf, wd)
		}
	}
	b.mu.Lock()
	created, finished, _ := b.ownCountsLocked()
	b.mu.Unlock()
	if all := b.allOwnFinished(); all != (finished == created) {
		t.Fatalf("allOwnFinished %v with %d of %d finished", all, finished, created)
	}
}
