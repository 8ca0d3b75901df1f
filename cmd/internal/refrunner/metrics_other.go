//go:build !linux && !windows

package refrunner

import "errors"

// errNoProc reports that host metrics are only read on Linux and Windows;
// elsewhere (macOS, the portable fallback) the heartbeat sends zeros.
var errNoProc = errors.New("host metrics are only available on linux and windows")

// readCPUTimes is unavailable off Linux.
func readCPUTimes() (idle, total uint64, err error) { return 0, 0, errNoProc }

// readMemInfo is unavailable off Linux.
func readMemInfo() (totalMB, availMB float64, err error) { return 0, 0, errNoProc }

// diskUsage is unavailable off Linux.
func diskUsage(dir string) (totalMB, usedMB float64, err error) { return 0, 0, errNoProc }
