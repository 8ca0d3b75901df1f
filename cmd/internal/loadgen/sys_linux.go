//go:build linux

package loadgen

import "syscall"

// childProcAttr makes the kernel send SIGTERM to the managed server if
// loadgen dies without cleaning up (kill -9, say).
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
