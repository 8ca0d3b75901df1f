package loadgen

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
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
