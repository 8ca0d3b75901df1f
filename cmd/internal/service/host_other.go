//go:build !windows

package service

import (
	"context"
	"io"
)

// host runs the program in this console: systemd (or a shell) is the
// service manager, and its SIGTERM reaches the program the way it does in
// a console start.
func host(name, logFile string, run func(ctx context.Context, stdout, stderr io.Writer) int, stdout, stderr io.Writer) int {
	return console(logFile, run, stdout, stderr)
}
