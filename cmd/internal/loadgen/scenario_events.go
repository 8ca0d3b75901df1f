package loadgen

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The events scenario checks the live stream's budget (docs/performance.md,
// "Live events"): --streams open streams (default 1,000) cost under 64 MiB
// of the server's resident memory and receive each event within 1 s while
// --change-rate state changes a second (default 1,000: creations) happen;
// idle streams cost no CPU between heartbeats; a client that reads nothing
// is dropped without holding up the others.

// eventProbes is how many streams parse every event to time it (the others
// only drain bytes, so the load generator does not starve the server).
const eventProbes = 10

// streamConn is one open stream.
type streamConn struct {
	conn  net.Conn
	bytes atomic.Int64
	ended atomic.Bool
}

// openStream opens GET /api/events on a raw connection and checks the
// answer's head. The body is left to the caller.
func (t *target) openStream(query string, rcvBuf int) (*streamConn, *bufio.Reader, error) {
	addr, isTLS := t.client.hc.Addr, t.client.hc.IsTLS
	d := net.Dialer{Timeout: 10 * time.Second}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	if rcvBuf > 0 {
		if tc, ok := raw.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(rcvBuf)
		}
	}
	conn := raw
	if isTLS {
		conn = tls.Client(raw, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // load testing a local server
	}
	req := "GET /api/events" + query + " HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + t.adminToken +
		"\r\nAccept: text/event-stream\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		conn.Close()
		return nil, nil, err
	}
	br := bufio.NewReaderSize(conn, 4096)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		conn.Close()
		return nil, nil, fmt.Errorf("GET /api/events: %q %v", strings.TrimSpace(status), err)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			conn.Close()
			return nil, nil, err
		}
		if line == "\r\n" {
			break
		}
	}
	_ = conn.SetReadDeadline(time.Time{})
	return &streamConn{conn: conn}, br, nil
}

// procStat reads a process's resident memory (VmRSS, MiB) and CPU time
// (user + system) from /proc.
func procStat(pid int) (rssMiB float64, cpu time.Duration, err error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			rssMiB = kb / 1024
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// Fields after the command (which may hold spaces) start after ')'.
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return rssMiB, time.Duration(utime+stime) * (time.Second / 100), nil // USER_HZ is 100 on Linux
}

// metricValue reads one series from GET /metrics.
func (t *target) metricValue(name string) (float64, error) {
	resp, err := t.client.Do(nil, "metrics", Request{Method: "GET", Path: "/metrics"})
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(resp.Body), "\n") {
		if strings.HasPrefix(line, name+" ") {
			return strconv.ParseFloat(strings.TrimSpace(line[len(name)+1:]), 64)
		}
	}
	return 0, fmt.Errorf("no %s in /metrics", name)
}

func runEvents(e *env) error {
	if !e.t.managed {
		return fmt.Errorf("the events scenario measures the server's own memory and CPU: run it self-managed (without --url)")
	}
	n := e.cfg.streams
	wf, err := e.t.createPublishedWorkflow(e.prefix("events"))
	if err != nil {
		return err
	}
	rss0, _, err := procStat(e.t.pid)
	if err != nil {
		return err
	}

	// Open the streams: eventProbes of them time every QUEUED execution
	// event they see (its createdAt against the arrival), the rest drain.
	var lat sync.Mutex
	var latencies []time.Duration
	var seen atomic.Int64
	streams := make([]*streamConn, 0, n)
	var wg sync.WaitGroup
	defer func() {
		for _, s := range streams {
			s.conn.Close()
		}
		wg.Wait()
	}()
	for i := 0; i < n; i++ {
		sc, br, err := e.t.openStream("?types=execution", 0)
		if err != nil {
			return fmt.Errorf("stream %d: %w", i, err)
		}
		streams = append(streams, sc)
		probe := i < eventProbes
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer sc.ended.Store(true)
			if !probe {
				buf := make([]byte, 16<<10)
				for {
					k, err := br.Read(buf)
					sc.bytes.Add(int64(k))
					if err != nil {
						return
					}
				}
			}
			var ev struct {
				Status    string    `json:"status"`
				CreatedAt time.Time `json:"createdAt"`
			}
			for {
				line, err := br.ReadSlice('\n')
				sc.bytes.Add(int64(len(line)))
				if err != nil {
					if err == bufio.ErrBufferFull {
						continue
					}
					return
				}
				if !bytes.HasPrefix(line, []byte("data: ")) {
					continue
				}
				at := time.Now()
				if json.Unmarshal(line[6:], &ev) != nil || ev.Status != "QUEUED" {
					continue
				}
				seen.Add(1)
				lat.Lock()
				latencies = append(latencies, at.Sub(ev.CreatedAt))
				lat.Unlock()
			}
		}()
	}
	// Wait for the server to have registered them all.
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := e.t.metricValue("exekra_event_streams")
		if err == nil && int(v) >= n {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server counts %.0f of %d streams after 30 s", v, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	rss1, cpu1, err := procStat(e.t.pid)
	if err != nil {
		return err
	}
	perStream := (rss1 - rss0) * 1024 / float64(n)
	e.extra("streams", float64(n))
	e.extra("server RSS MiB before streams", rss0)
	e.extra("server RSS MiB with streams", rss1)
	e.extra("RSS KiB per stream", perStream)
	e.res.check(fmt.Sprintf("%d open streams cost under 64 MiB", n), rss1-rss0 < 64, "%.1f MiB (%.1f KiB each)", rss1-rss0, perStream)

	// Idle: nothing happens; the streams wait for their heartbeat.
	idle := 5 * time.Second
	time.Sleep(idle)
	_, cpu2, err := procStat(e.t.pid)
	if err != nil {
		return err
	}
	idleCPU := float64((cpu2 - cpu1).Milliseconds()) / idle.Seconds()
	e.extra("server CPU ms/s while idle with streams", idleCPU)
	e.res.check("idle streams cost no CPU between heartbeats", idleCPU < 20, "%.1f ms of CPU per second over %s", idleCPU, idle)

	// A client that reads nothing (a tiny receive buffer, never drained).
	slow, _, err := e.t.openStream("", 4096)
	if err != nil {
		return err
	}
	defer slow.conn.Close()
	dropped0, _ := e.t.metricValue("exekra_event_streams_dropped_total")

	// The load: --change-rate creations a second, paced, for the duration
	// (at least 10 s, so the slow client's buffers fill).
	dur := max(e.cfg.duration, 20*time.Second)
	rate := e.cfg.changeRate
	// Each worker makes a few requests a second, so a slow answer does
	// not lower the rate.
	workers := max(1, min(256, int(rate/4)))
	body, _ := json.Marshal(map[string]string{"workflowId": wf})
	var created, failed atomic.Int64
	start := time.Now()
	var lw sync.WaitGroup
	for w := 0; w < workers; w++ {
		lw.Add(1)
		go func(w int) {
			defer lw.Done()
			interval := time.Duration(float64(time.Second) * float64(workers) / rate)
			next := start.Add(time.Duration(w) * interval / time.Duration(workers))
			for {
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				if time.Since(start) >= dur {
					return
				}
				resp, err := e.t.client.Do(e.rec, "create", Request{Method: "POST", Path: "/api/executions", Body: body, Token: e.t.adminToken})
				if err != nil || resp.Status != 201 {
					failed.Add(1)
				} else {
					created.Add(1)
				}
				next = next.Add(interval)
			}
		}(w)
	}
	// The server's resident memory while the load runs.
	stopSampling := sampleRSS(e.t.pid)
	lw.Wait()
	elapsed := time.Since(start)
	peakLoad := stopSampling()
	e.extra("server RSS MiB during load (max)", peakLoad)
	e.summarize(e.rec, elapsed)
	achieved := float64(created.Load()) / elapsed.Seconds()
	e.extra("state changes per second", achieved)
	e.res.check("the state changes were made at the asked rate", achieved >= 0.9*rate && failed.Load() == 0,
		"%.0f/s of %.0f/s, %d failed", achieved, rate, failed.Load())

	// Every probe sees every creation; wait for the stragglers (up to 5 s).
	want := created.Load() * eventProbes
	for wait := time.Now().Add(5 * time.Second); seen.Load() < want && time.Now().Before(wait); {
		time.Sleep(20 * time.Millisecond)
	}
	lat.Lock()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	var p50, p99, worst time.Duration
	if k := len(latencies); k > 0 {
		p50, p99, worst = latencies[k/2], latencies[k*99/100], latencies[k-1]
	}
	lat.Unlock()
	e.extra("event latency p50 ms", ms(p50))
	e.extra("event latency p99 ms", ms(p99))
	e.extra("event latency max ms", ms(worst))
	e.res.check("every stream got every event", seen.Load() == want, "%d of %d probe deliveries", seen.Load(), want)
	e.res.check("each event arrived within 1 s", worst < time.Second, "p50 %.0f ms, p99 %.0f ms, max %.0f ms", ms(p50), ms(p99), ms(worst))
	var drained int64
	ended := 0
	for _, s := range streams {
		drained += s.bytes.Load()
		if s.ended.Load() {
			ended++
		}
	}
	e.extra("stream MiB delivered", float64(drained)/(1<<20))
	e.res.check("no reading stream was dropped", ended == 0, "%d streams ended", ended)
	// The stalled client is dropped once its buffers are full (its socket's,
	// then its 256 waiting batches) or a write to it blocks for 30 s.
	var dropped1 float64
	dropWait := time.Now()
	for wait := time.Now().Add(45 * time.Second); time.Now().Before(wait); time.Sleep(250 * time.Millisecond) {
		if dropped1, err = e.t.metricValue("exekra_event_streams_dropped_total"); err != nil {
			return err
		}
		if dropped1 > dropped0 {
			break
		}
	}
	e.res.check("the client that reads nothing was dropped", dropped1-dropped0 >= 1, "dropped %.0f, %.1f s after the load",
		dropped1-dropped0, time.Since(dropWait).Seconds())
	return nil
}
