package main

import (
	"bufio"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"
)

// BenchmarkParkedPollMemory parks long polls (?wait=30) from raw TCP
// connections (next to no client-side memory) and reports what each costs
// the server in process: heap, goroutine stacks and goroutines. It is a
// measurement, run once per iteration count:
//
//	go test -run '^$' -bench ParkedPollMemory -benchtime 2000x ./cmd/exekra
func BenchmarkParkedPollMemory(b *testing.B) {
	s := rnStartBench(b)
	n := b.N
	req := []byte("GET /api/runners/poll?wait=30 HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer " + s.token + "\r\n\r\n")
	var before, after runtime.MemStats
	// Two collections: the second empties the pools' victim caches, which
	// would otherwise be counted on one side only.
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	b.ResetTimer()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
	}
	// Parked: held by the HTTP layer without a goroutine (httpd/parked.go),
	// and by each runner's actor (one poll per runner here: the same one).
	deadline := time.Now().Add(20 * time.Second)
	for s.m.http.Parked() < n {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d polls parked", s.m.http.Parked(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	// fasthttp's idle workers and the hijack goroutines end on their own;
	// wait until the goroutine count settles before reading memory.
	settle(g0, n)
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
	heap, stack := per(after.HeapInuse, before.HeapInuse), per(after.StackInuse, before.StackInuse)
	b.ReportMetric(heap, "heap-B/poll")
	// The bytes of live objects (HeapInuse counts whole spans).
	b.ReportMetric(per(after.HeapAlloc, before.HeapAlloc), "live-B/poll")
	b.ReportMetric(stack, "stack-B/poll")
	b.ReportMetric(heap+stack, "B/poll")
	b.ReportMetric(float64(runtime.NumGoroutine()-g0)/float64(n), "goroutines/poll")
	if path := os.Getenv("EXEKRA_PARKED_HEAP_PROFILE"); path != "" {
		// What a parked poll is made of: the in-use heap while they are parked
		// (set GODEBUG=memprofilerate=1 for every allocation).
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			b.Fatal(err)
		}
		_ = f.Close()
	}
	// Every parked poll is answered when released (none was lost).
	s.m.system.ReleasePolls()
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || line[:12] != "HTTP/1.1 200" {
			b.Fatalf("released poll: %q %v", line, err)
		}
	}
}

// settle waits (up to 15 s) until fewer than a tenth of n goroutines are
// left above g0: fasthttp's worker pool keeps a worker idle for up to 10 s
// after its connection was hijacked.
func settle(g0, n int) {
	deadline := time.Now().Add(15 * time.Second)
	for runtime.NumGoroutine() > g0+n/10 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
}
