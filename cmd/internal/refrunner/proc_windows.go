package refrunner

import (
	"os/exec"
	"strconv"
)

// killProcessGroup makes the end of cmd's context kill the whole process
// tree: PowerShell's children (a robot's desktop application, say) would
// outlive a kill of PowerShell alone. taskkill /T walks the tree; when it
// cannot run, the shell itself is still killed.
func killProcessGroup(cmd *exec.Cmd) {
	cmd.Cancel = func() error {
		tree := exec.Command("taskkill", "/T", "/F", "/PID", strconv.Itoa(cmd.Process.Pid))
		if err := tree.Run(); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
}
