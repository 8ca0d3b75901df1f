package service

import (
	"os"
	"os/exec"
	"os/user"
)

// newManager is systemd.
func newManager() (Manager, error) { return newSystemd(), nil }

// newSystemd is the systemd of this machine.
func newSystemd() *systemd {
	return &systemd{
		unitDir: "/etc/systemd/system",
		run: func(name string, args ...string) ([]byte, error) {
			return exec.Command(name, args...).CombinedOutput()
		},
		userExists: func(name string) bool { _, err := user.Lookup(name); return err == nil },
		isRoot:     func() bool { return os.Geteuid() == 0 },
		booted: func() bool {
			fi, err := os.Stat("/run/systemd/system")
			return err == nil && fi.IsDir()
		},
	}
}
