package loadgen

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// peakRSSMiB reads a process's peak resident set size (VmHWM) from
// /proc/<pid>/status, in MiB. It fails where /proc is not Linux's.
func peakRSSMiB(pid int) (float64, error) { return statusMiB(pid, "VmHWM:") }

// currentRSSMiB reads a process's resident set size now (VmRSS), in MiB.
func currentRSSMiB(pid int) (float64, error) { return statusMiB(pid, "VmRSS:") }

// statusMiB reads one kB field of /proc/<pid>/status, in MiB.
func statusMiB(pid int, field string) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, field) {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			break
		}
		kb, err := strconv.ParseFloat(fields[1], 64)
		if err != nil {
			return 0, err
		}
		return kb / 1024, nil
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// cpuSeconds reads a process's user+system CPU time from /proc/<pid>/stat.
func cpuSeconds(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its ")".
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return (utime + stime) / 100, nil // USER_HZ is 100 on Linux
}

// sampleRSS reads the resident memory of pid every 250 ms until the
// returned function is called, which answers the largest reading in MiB.
func sampleRSS(pid int) (stop func() float64) {
	var peak float64
	done, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if r, _, err := procStat(pid); err == nil && r > peak {
					peak = r
				}
			}
		}
	}()
	return func() float64 {
		close(done)
		<-sampled
		return peak
	}
}
