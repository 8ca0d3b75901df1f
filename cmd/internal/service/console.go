package service

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// console runs the program until SIGINT or SIGTERM (Ctrl+C, or a console
// closing on Windows), its output also appended to logFile when given.
func console(logFile string, run func(ctx context.Context, stdout, stderr io.Writer) int, stdout, stderr io.Writer) int {
	if logFile != "" {
		f, err := openLogFile(logFile, maxLogFile)
		if err != nil {
			fmt.Fprintln(stderr, "exekra service:", err)
			return 1
		}
		defer f.Close()
		stdout, stderr = io.MultiWriter(stdout, f), io.MultiWriter(stderr, f)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, stdout, stderr)
}
