package refrunner

import (
	"fmt"
	"log/slog"
)

// CheckFlags reports what is wrong with a runner command line (unknown
// flags, arguments, a bad --log-level or --log-format) without running
// anything, for `exekra service install runner`, which writes the command
// line into a service that starts later. The error is one line. The
// credentials are not checked: the secret travels in the service's
// environment file, not on the command line.
func CheckFlags(args []string) error {
	_, logLevel, logFormat, err := parseFlags(args)
	if err != nil {
		return fmt.Errorf("exekra runner: %w", err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("exekra runner: --log-level must be debug, info, warn or error, got %q", logLevel)
	}
	if logFormat != "text" && logFormat != "json" {
		return fmt.Errorf("exekra runner: --log-format must be text or json, got %q", logFormat)
	}
	return nil
}
