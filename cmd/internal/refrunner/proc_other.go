//go:build !unix && !windows

package refrunner

import "os/exec"

// killProcessGroup keeps exec's default (kill the shell only) where there
// are neither process groups nor taskkill: the portable fallback.
func killProcessGroup(*exec.Cmd) {}
