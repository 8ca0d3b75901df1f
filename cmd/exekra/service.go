package main

import (
	"context"
	"io"
	"os"

	"github.com/exekra/orchestrator/cmd/internal/refrunner"
	"github.com/exekra/orchestrator/cmd/internal/service"
)

// runService is `exekra service …`: install, control and host the Hub and
// the runner as a Windows service or a systemd unit (cmd/internal/service,
// docs/windows.md, docs/deploy/README.md). args are those after "service".
func runService(args []string, stdout, stderr io.Writer) int {
	return service.Main(args, stdout, stderr, service.Options{
		Programs: map[string]service.Program{
			service.TargetHub: func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
				return exitCode(serveUntil(ctx, args, stdout, stderr, os.Getenv), stderr)
			},
			service.TargetRunner: refrunner.Main,
		},
		// The program's flags are checked at install time, so a typo fails
		// now rather than at the service's first start.
		Validate: func(target string, args []string) error {
			if target == service.TargetRunner {
				return refrunner.CheckFlags(args)
			}
			return NewMain().ParseFlags(args, nil)
		},
	})
}
