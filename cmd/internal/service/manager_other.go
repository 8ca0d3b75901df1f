//go:build !linux && !windows

package service

import (
	"fmt"
	"runtime"
)

// newManager: services are installed on Windows and on Linux with systemd
// only; elsewhere (macOS's launchd) `exekra serve` is started by hand or by
// a unit of the operator's own.
func newManager() (Manager, error) {
	return nil, fmt.Errorf("services are installed on Windows and on Linux (systemd), not on %s", runtime.GOOS)
}
