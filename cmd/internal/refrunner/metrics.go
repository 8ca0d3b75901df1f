package refrunner

import (
	"context"
	"math"
	"net"
	"runtime"
	"sync"
	"time"
)

// HostMetrics is the heartbeat's picture of the machine.
type HostMetrics struct {
	CPU         float64 `json:"cpu"`
	MemTotalMB  float64 `json:"memTotalMB"`
	MemUsedMB   float64 `json:"memUsedMB"`
	MemUsage    float64 `json:"memUsage"`
	DiskTotalMB float64 `json:"diskTotalMB"`
	DiskUsedMB  float64 `json:"diskUsedMB"`
}

// RunMetrics summarises the host samples taken during one execution.
type RunMetrics struct {
	CPUAvg    float64 `json:"cpuAvg"`
	CPUPeak   float64 `json:"cpuPeak"`
	MemAvgMB  float64 `json:"memAvgMB"`
	MemPeakMB float64 `json:"memPeakMB"`
}

// cpuMeter turns cumulative /proc/stat counters into a busy percentage since
// the previous reading (since boot for the first one). Readings closer together
// than minCPUWindow repeat the last figure instead of measuring a window too
// short for the kernel's 10 ms tick.
type cpuMeter struct {
	mu              sync.Mutex
	prevIdle, prevT uint64
	last            float64
}

// minCPUWindow is the shortest window measured, in jiffies per CPU (USER_HZ is 100).
const minCPUWindow = 5

// percent returns host CPU use in percent since the last measured window, or 0 when unknown.
func (m *cpuMeter) percent() float64 {
	idle, total, err := readCPUTimes()
	if err != nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if idle < m.prevIdle || total < m.prevT { // counters went backwards: start again
		m.prevIdle, m.prevT = idle, total
		return m.last
	}
	dIdle, dTotal := idle-m.prevIdle, total-m.prevT
	if dTotal < uint64(minCPUWindow*runtime.NumCPU()) {
		return m.last
	}
	m.prevIdle, m.prevT = idle, total
	m.last = round1(100 * float64(dTotal-dIdle) / float64(dTotal))
	return m.last
}

// copyFrom starts m where other stands, so m's first window begins at other's last reading.
func (m *cpuMeter) copyFrom(other *cpuMeter) {
	other.mu.Lock()
	idle, total, last := other.prevIdle, other.prevT, other.last
	other.mu.Unlock()
	m.mu.Lock()
	m.prevIdle, m.prevT, m.last = idle, total, last
	m.mu.Unlock()
}

// hostMetrics reads the heartbeat metrics; fields that cannot be read stay 0.
func hostMetrics(cpu *cpuMeter, dir string) HostMetrics {
	m := HostMetrics{CPU: cpu.percent()}
	if total, avail, err := readMemInfo(); err == nil && total > 0 {
		used := total - avail
		m.MemTotalMB, m.MemUsedMB = round1(total), round1(used)
		m.MemUsage = round1(100 * used / total)
	}
	if total, used, err := diskUsage(dir); err == nil {
		m.DiskTotalMB, m.DiskUsedMB = round1(total), round1(used)
	}
	return m
}

// sampler collects host CPU and used memory while an execution runs.
type sampler struct {
	cpu cpuMeter

	mu                sync.Mutex
	n                 int
	cpuSum, cpuPeak   float64
	memSum, memPeakMB float64
}

// newSampler returns a sampler whose first CPU window starts at base's last
// reading (the last heartbeat), so even a run shorter than one sampling
// interval reports a measured figure.
func newSampler(base *cpuMeter) *sampler {
	s := &sampler{}
	s.cpu.copyFrom(base)
	return s
}

// sample takes one reading.
func (s *sampler) sample() {
	cpu := s.cpu.percent()
	var mem float64
	if total, avail, err := readMemInfo(); err == nil {
		mem = total - avail
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	s.cpuSum += cpu
	s.memSum += mem
	s.cpuPeak = math.Max(s.cpuPeak, cpu)
	s.memPeakMB = math.Max(s.memPeakMB, mem)
}

// loop samples every interval until ctx ends.
func (s *sampler) loop(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sample()
		}
	}
}

// summary returns the figures so far; a run without samples takes one now.
func (s *sampler) summary() RunMetrics {
	s.mu.Lock()
	n := s.n
	s.mu.Unlock()
	if n == 0 {
		s.sample()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return RunMetrics{
		CPUAvg:    round1(s.cpuSum / float64(s.n)),
		CPUPeak:   round1(s.cpuPeak),
		MemAvgMB:  round1(s.memSum / float64(s.n)),
		MemPeakMB: round1(s.memPeakMB),
	}
}

// round1 rounds to one decimal place.
func round1(v float64) float64 { return math.Round(v*10) / 10 }

// primaryIP returns the first non-loopback, non-link-local address of an up
// interface, IPv4 preferred, or "" when there is none.
func primaryIP() string {
	ifaces, err := net.Interfaces()
	if err != nil {
		return ""
	}
	var v6 string
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() {
				continue
			}
			if ip4 := ipn.IP.To4(); ip4 != nil {
				return ip4.String()
			}
			if v6 == "" {
				v6 = ipn.IP.String()
			}
		}
	}
	return v6
}
