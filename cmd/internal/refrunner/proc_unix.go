//go:build unix

package refrunner

import (
	"os/exec"
	"syscall"
)

// killProcessGroup makes cmd run in its own process group and, when its
// context ends, kills the whole group so children of `sh -c` die too.
func killProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
