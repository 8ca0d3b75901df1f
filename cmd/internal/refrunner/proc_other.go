//go:build !linux

package refrunner

import "os/exec"

// killProcessGroup keeps exec's default (kill the shell only) off Linux.
func killProcessGroup(*exec.Cmd) {}
