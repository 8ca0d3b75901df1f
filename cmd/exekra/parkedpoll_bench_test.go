package main

import (
	"bufio"
	"net"
	"runtime"
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
	// Parked: one handler goroutine per poll, all blocked.
	deadline := time.Now().Add(20 * time.Second)
	for runtime.NumGoroutine() < g0+n {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d polls parked", runtime.NumGoroutine()-g0, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
	b.ReportMetric(per(after.HeapInuse, before.HeapInuse), "heap-B/poll")
	b.ReportMetric(per(after.StackInuse, before.StackInuse), "stack-B/poll")
	b.ReportMetric(float64(runtime.NumGoroutine()-g0)/float64(n), "goroutines/poll")
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
