package main

import (
	"runtime"
	"testing"
	"time"
)

var runtimeGC = runtime.GC

func TestHeapFloorPercent(t *testing.T) {
	h := &heapFloor{floor: 64 << 20, base: 100}
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 100},
		{8 << 20, 700},   // 8 MiB live: grow by 56 MiB before the next cycle
		{16 << 20, 300},  // 16 → 64
		{32 << 20, 100},  // GOGC alone reaches the floor
		{500 << 20, 100}, // large heaps keep GOGC
		{1 << 10, 5000},  // capped
		{40 << 20, 100},  // 40+40 ≥ 64
		{30 << 20, 113},  // (64-30)/30
	} {
		if got := h.percentFor(c.live); got != c.want {
			t.Errorf("live %d: %d%%, want %d%%", c.live, got, c.want)
		}
	}
	if got := (&heapFloor{floor: 64 << 20, base: 400}).percentFor(16 << 20); got != 400 {
		t.Errorf("a higher GOGC is kept: %d", got)
	}
}

// TestHeapFloorFollowsCycles starts the floor on this (small) test heap:
// after a collection the percentage is above GOGC; stopping restores it.
func TestHeapFloorFollowsCycles(t *testing.T) {
	base := gcPercent()
	if base != 100 {
		t.Skipf("GOGC is %d here; the test expects the default", base)
	}
	stop := startHeapFloor(1 << 30) // far above this test's live heap
	stop2 := startHeapFloor(1 << 30)
	deadline := time.Now().Add(5 * time.Second)
	for gcPercent() <= base {
		if time.Now().After(deadline) {
			stop()
			stop2()
			t.Fatalf("GC percent still %d after collections", gcPercent())
		}
		runtimeGC()
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if gcPercent() == base {
		t.Fatal("the first stop of two users restored GOGC")
	}
	stop2()
	stop2() // idempotent
	if got := gcPercent(); got != base {
		t.Fatalf("after stop: %d%%, want %d%%", got, base)
	}
}
