package refrunner

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// usage is printed by `exekra runner --help`.
const usage = `Usage: exekra runner --url URL --machine-key KEY --machine-secret SECRET [flags]

Runs the Exekra reference runner: authenticates with the machine credentials,
heartbeats, polls the orchestrator for work and executes workflow graphs.

Flags (a flag shown with a variable also reads it when the flag is absent):
  --url URL                orchestrator base URL, e.g. https://orchestrator:4545   (EXEKRA_URL)
  --machine-key KEY        machine key from runner registration                      (EXEKRA_MACHINE_KEY)
  --machine-secret SECRET  machine secret from registration; prefer the variable,
                           command lines are visible to other local users            (EXEKRA_MACHINE_SECRET)
  --ca-cert FILE           PEM certificate(s) to trust, e.g. the server's self-signed
                           data-dir certificate                                       (EXEKRA_CA_CERT)
  --insecure-skip-verify   accept any TLS certificate (testing only) (default off)
  --allow-shell            allow "shell" nodes to run commands (sh -c; PowerShell
                           on Windows) (default off)
  --log-level LEVEL        debug, info, warn or error (default info)
  --log-format FORMAT      text or json (default text)
`

// Main runs `exekra runner` with args (those after "runner"): 0 after a clean
// stop when ctx ends, 1 when the runner cannot go on (credentials rejected),
// 2 with a one-line error for bad flags or arguments.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, logLevel, logFormat, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "exekra runner: %v\n", err)
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		fmt.Fprintf(stderr, "exekra runner: --log-level must be debug, info, warn or error, got %q\n", logLevel)
		return 2
	}
	opts := &slog.HandlerOptions{Level: level}
	switch logFormat {
	case "text":
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, opts))
	case "json":
		cfg.Logger = slog.New(slog.NewJSONHandler(stderr, opts))
	default:
		fmt.Fprintf(stderr, "exekra runner: --log-format must be text or json, got %q\n", logFormat)
		return 2
	}
	if cfg, err = cfg.withDefaults(); err != nil {
		fmt.Fprintf(stderr, "exekra runner: %v\n", err)
		return 2
	}
	if err := Run(ctx, cfg); err != nil {
		fmt.Fprintf(stderr, "exekra runner: %v\n", err)
		return 1
	}
	return 0
}

// parseFlags turns the command line (and the EXEKRA_ variables standing in
// for absent flags) into a Config; the error is one line.
func parseFlags(args []string) (cfg Config, logLevel, logFormat string, err error) {
	fs := flag.NewFlagSet("exekra runner", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.URL, "url", os.Getenv("EXEKRA_URL"), "")
	fs.StringVar(&cfg.MachineKey, "machine-key", os.Getenv("EXEKRA_MACHINE_KEY"), "")
	fs.StringVar(&cfg.MachineSecret, "machine-secret", os.Getenv("EXEKRA_MACHINE_SECRET"), "")
	fs.StringVar(&cfg.CAFile, "ca-cert", os.Getenv("EXEKRA_CA_CERT"), "")
	fs.BoolVar(&cfg.InsecureSkipVerify, "insecure-skip-verify", false, "")
	fs.BoolVar(&cfg.AllowShell, "allow-shell", false, "")
	fs.StringVar(&logLevel, "log-level", "info", "")
	fs.StringVar(&logFormat, "log-format", "text", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, "", "", err
		}
		return cfg, "", "", errors.New(firstLine(err.Error()))
	}
	if fs.NArg() > 0 {
		return cfg, "", "", fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return cfg, logLevel, strings.ToLower(logFormat), nil
}

// firstLine returns s up to its first newline.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
