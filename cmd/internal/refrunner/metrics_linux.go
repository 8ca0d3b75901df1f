package refrunner

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// readCPUTimes returns the cumulative idle (idle+iowait) and total jiffies of all CPUs.
func readCPUTimes() (idle, total uint64, err error) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := bytes.Cut(raw, []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0, errors.New("unexpected /proc/stat format")
	}
	for i, f := range fields[1:] {
		if i >= 8 { // guest and guest_nice are already inside user and nice
			break
		}
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, 0, err
		}
		total += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	return idle, total, nil
}

// readMemInfo returns total and available memory in MB from /proc/meminfo.
func readMemInfo() (totalMB, availMB float64, err error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	vals := map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(fields[0], 64); err == nil {
			vals[name] = v / 1024 // kB → MB
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	total, ok := vals["MemTotal"]
	if !ok {
		return 0, 0, errors.New("no MemTotal in /proc/meminfo")
	}
	avail, ok := vals["MemAvailable"]
	if !ok {
		avail = vals["MemFree"] + vals["Buffers"] + vals["Cached"]
	}
	return total, avail, nil
}

// diskUsage returns the size and used space, in MB, of the file system holding dir.
func diskUsage(dir string) (totalMB, usedMB float64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	bs := float64(st.Bsize)
	const mb = 1 << 20
	return float64(st.Blocks) * bs / mb, float64(st.Blocks-st.Bfree) * bs / mb, nil
}
