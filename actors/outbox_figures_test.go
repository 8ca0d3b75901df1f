package actors

import (
	"testing"
	"time"
)

func TestOutboxBacklogSlowestEnabledCursorAndOldestHead(t *testing.T) {
	var f OutboxFigures
	now := time.UnixMilli(1_000_000_000)
	if p, o := f.Backlog(42, now); p != 0 || o != 0 {
		t.Fatalf("no subscription: %d %v", p, o)
	}
	fast, slow, off := f.view("fast"), f.view("slow"), f.view("off")
	fast.cursor.Store(40)
	fast.enabled.Store(true)
	slow.cursor.Store(10)
	slow.enabled.Store(true)
	slow.oldest.Store(now.Add(-90 * time.Second).UnixMilli())
	off.cursor.Store(1) // disabled: behind, but not counted
	off.oldest.Store(now.Add(-time.Hour).UnixMilli())
	if p, o := f.Backlog(42, now); p != 32 || o != 90*time.Second {
		t.Fatalf("pending %d oldest %v, want 32 and 90s", p, o)
	}
	f.drop("slow")
	if p, o := f.Backlog(42, now); p != 2 || o != 0 {
		t.Fatalf("after the slow one is deleted: %d %v", p, o)
	}
	if p, _ := f.Backlog(40, now); p != 0 {
		t.Fatalf("caught up: %d", p)
	}
}
