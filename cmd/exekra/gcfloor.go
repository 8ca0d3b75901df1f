package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// The heap floor (--gc-heap-floor) keeps the garbage collector from running
// many times a second over a small heap.
//
// Go's collector starts a cycle when the heap has grown by GOGC % (100 by
// default) over what the last cycle found live. A busy orchestrator keeps
// little live (a few MiB of records and actors) but allocates fast (request
// buffers, records being encoded, bbolt's transaction nodes), so with the
// default it collected 20–30 times a second under a create burst and the
// collector took about a fifth of the CPU. The floor raises the percentage
// while the live heap is small, so the next cycle starts only once the heap
// reaches the floor; as soon as the live heap is large enough that GOGC
// alone gives that much room (at the default, half the floor), the
// percentage is GOGC again, so large deployments (10,000 runners) keep the
// memory profile they had. This is the "GC tuner" Uber and ByteDance
// describe for their services, done with the runtime's own knobs: a
// finalizer that runs once per cycle reads the live heap and sets the
// percentage for the next one. GOMEMLIMIT, when set, still caps the heap;
// an explicit GOGC=off is left alone.
//
// Measured (BenchmarkCreateExecution, 64 clients, 3 s): CPU per creation
// fell from ~88 to ~69 µs with a 64 MiB floor. The gain is largest while
// little is live; once ~100,000 queued executions (each with its actor) are
// alive, GOGC applies again and the collector is back to about a fifth of
// the CPU. See docs/performance.md.

// maxFloorPercent bounds the percentage the floor sets (a nearly empty heap
// would otherwise ask for an absurd one).
const maxFloorPercent = 5000

// heapFloor is one running floor; the first server of the process owns it
// (tests start several servers in one process; the runtime has one GC).
type heapFloor struct {
	floor   uint64
	base    int // the percentage the process had (GOGC, 100 by default)
	stopped atomic.Bool
	last    int
}

var (
	heapFloorMu    sync.Mutex
	heapFloorUsers int
	activeFloor    *heapFloor
)

// startHeapFloor starts the floor (floorBytes > 0) and returns its stop
// function; a second start in the same process shares the first floor.
func startHeapFloor(floorBytes uint64) (stop func()) {
	if floorBytes == 0 {
		return func() {}
	}
	heapFloorMu.Lock()
	var started *heapFloor
	if activeFloor == nil {
		base := gcPercent()
		if base < 0 { // GOGC=off: the operator's choice
			heapFloorMu.Unlock()
			return func() {}
		}
		started = &heapFloor{floor: floorBytes, base: base, last: base}
		activeFloor = started
	}
	heapFloorUsers++
	heapFloorMu.Unlock()
	if started != nil {
		started.adjust()
		started.arm()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			heapFloorMu.Lock()
			defer heapFloorMu.Unlock()
			if heapFloorUsers--; heapFloorUsers == 0 && activeFloor != nil {
				activeFloor.stopped.Store(true)
				debug.SetGCPercent(activeFloor.base)
				activeFloor = nil
			}
		})
	}
}

// gcPercent reads the current GOGC percentage (negative when off).
func gcPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 100
	}
	v := s[0].Value.Uint64()
	if v == 0 {
		return -1
	}
	return int(v)
}

// gcSentinel is garbage the collector finds in every cycle: its finalizer
// is the per-cycle hook. It holds a pointer so it is never batched into a
// tiny allocation block (whose finalizers may never run).
type gcSentinel struct{ h *heapFloor }

func (h *heapFloor) arm() {
	runtime.SetFinalizer(&gcSentinel{h: h}, func(s *gcSentinel) {
		if s.h.stopped.Load() {
			return
		}
		s.h.adjust()
		s.h.arm()
	})
}

// adjust sets the percentage so the next cycle starts no earlier than the
// floor (and never later than GOGC would).
func (h *heapFloor) adjust() {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	p := h.percentFor(s[0].Value.Uint64())
	heapFloorMu.Lock()
	defer heapFloorMu.Unlock()
	if p != h.last && !h.stopped.Load() {
		debug.SetGCPercent(p)
		h.last = p
	}
}

// percentFor is the percentage whose heap target over live bytes reaches
// the floor: GOGC itself when that already does.
func (h *heapFloor) percentFor(live uint64) int {
	if live == 0 {
		return h.base
	}
	if live+live*uint64(h.base)/100 >= h.floor {
		return h.base
	}
	p := int((h.floor - live) * 100 / live)
	if p > maxFloorPercent {
		p = maxFloorPercent
	}
	if p < h.base {
		p = h.base
	}
	return p
}
