// Command exekra is the Exekra Orchestrator: the server (serve), its license
// tooling (license keygen, license issue), operations commands, the
// reference runner and a client of the public API (login, run, workflows,
// …). Only this package sees more than one adapter: it wires storage, the
// actor system and the HTTP layer together.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	apiclient "github.com/exekra/orchestrator/cmd/internal/client"
	"github.com/exekra/orchestrator/cmd/internal/loadgen"
	"github.com/exekra/orchestrator/cmd/internal/refrunner"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

// errUsage marks a command-line error: one line on stderr, exit code 2.
type errUsage struct{ msg string }

func (e *errUsage) Error() string { return e.msg }

// ExitCode makes a usage error exit 2.
func (e *errUsage) ExitCode() int { return 2 }

func usageErr(format string, args ...any) error { return &errUsage{msg: fmt.Sprintf(format, args...)} }

// errFailed is a command that ran and failed: "exekra: <error>", exit 1.
type errFailed struct{ err error }

func (e *errFailed) Error() string { return "exekra: " + e.err.Error() }
func (e *errFailed) Unwrap() error { return e.err }
func (e *errFailed) ExitCode() int { return 1 }

// errExit is a command that has printed everything itself and only sets the
// exit code (the runner, the load generator, a run --wait that failed).
type errExit struct{ code int }

func (e *errExit) Error() string { return "" }
func (e *errExit) ExitCode() int { return e.code }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// run executes a command line and returns the exit code: 0 on success
// (help included), 1 when a command failed, 2 with one line on stderr for a
// wrong command line (docs/api.md, "Command line").
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		args = append([]string{"version"}, args[1:]...)
	}
	root := newRootCommand(stdout, stderr, getenv)
	root.SetArgs(args)
	return exitCode(root.Execute(), stderr)
}

// exitCode prints err (one line) and maps it to an exit code. Errors that
// carry no exit code of their own come from cobra's parsing (an unknown
// flag or command, a bad value): usage errors.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	code := 2
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		code = ec.ExitCode()
	}
	if msg := firstLine(err.Error()); msg != "" {
		fmt.Fprintln(stderr, msg)
	}
	return code
}

// firstLine is s up to its first line break.
func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// newRootCommand builds the whole command tree: the one place that lists
// the commands (the help, shell completion and error messages derive from
// it).
func newRootCommand(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	root := &cobra.Command{
		Use:   "exekra",
		Short: "Exekra Orchestrator: an on-premise RPA orchestrator server, its runner and its client",
		Long: `Exekra Orchestrator: the server (serve), its license and operations tooling, the
reference runner, and a client of the server's public API.

A first server: exekra serve --data-dir ./data (see README.md).
A client session: exekra login --server https://HOST:4545 --email EMAIL.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr("exekra: unknown command %q; see 'exekra --help' for the commands", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageErr("exekra: missing command; see 'exekra --help' for the commands")
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageErr("%s: %s", cmd.CommandPath(), firstLine(err.Error()))
	})
	root.AddGroup(&cobra.Group{ID: "server", Title: "Server and operations:"},
		&cobra.Group{ID: "client", Title: "Client of a running server (the public API):"})

	server := []*cobra.Command{
		serveCmd(stdout, stderr, getenv),
		licenseCmd(stdout),
		backupCmd(stdout, getenv),
		restoreCmd(stdout, getenv),
		compactCmd(stdout, getenv),
		passthrough("runner", "Run the reference runner (exekra runner --help for its flags)",
			func(args []string, stdout, stderr io.Writer) int {
				ctx, stop := signalContext()
				defer stop()
				return refrunner.Main(ctx, args, stdout, stderr)
			}),
		passthrough("loadtest", "Run a load scenario against a server on 127.0.0.1 (exekra loadtest --help)", loadgen.Main),
		passthrough("service", "Install and control serve or runner as a Windows service or systemd unit (exekra service --help)", runService),
		versionCmd(stdout),
	}
	for _, c := range server {
		c.GroupID = "server"
		root.AddCommand(c)
	}
	for _, c := range apiclient.Commands(apiclient.Env{Stdout: stdout, Stderr: stderr, Getenv: getenv}) {
		c.GroupID = "client"
		root.AddCommand(c)
	}
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := cmd.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return usageErr("exekra help: unknown command %q; see 'exekra --help' for the commands", strings.Join(args, " "))
			}
			if target.DisableFlagParsing { // prints its own help
				return target.RunE(target, []string{"--help"})
			}
			return target.Help()
		},
	})
	root.InitDefaultCompletionCmd()
	finishTree(root)
	return root
}

// finishTree applies the house rules to every command: a command that only
// groups others answers a missing or unknown subcommand with one line and
// exit 2 (cobra would print the help and exit 0), positional arguments are
// refused unless the command declares them, and a run that fails is exit 1.
func finishTree(c *cobra.Command) {
	c.Flags().SortFlags = false
	switch {
	case c.HasSubCommands() && c.Run == nil && c.RunE == nil:
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(cmd *cobra.Command, args []string) error {
			var names []string
			for _, sub := range cmd.Commands() {
				if sub.IsAvailableCommand() {
					names = append(names, sub.Name())
				}
			}
			if len(args) == 0 {
				return usageErr("%s: missing subcommand (%s)", cmd.CommandPath(), strings.Join(names, ", "))
			}
			return usageErr("%s: unknown subcommand %q (%s)", cmd.CommandPath(), args[0], strings.Join(names, ", "))
		}
	case c.RunE != nil:
		if c.Args == nil {
			c.Args = noArgs
		}
		inner := c.RunE
		c.RunE = func(cmd *cobra.Command, args []string) error {
			err := inner(cmd, args)
			var ec interface{ ExitCode() int }
			if err != nil && !errors.As(err, &ec) {
				return &errFailed{err: err}
			}
			return err
		}
	}
	if c.Args != nil && !c.DisableFlagParsing {
		inner := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := inner(cmd, args); err != nil {
				var ec interface{ ExitCode() int }
				if errors.As(err, &ec) {
					return err
				}
				return usageErr("%s: %s", cmd.CommandPath(), firstLine(err.Error()))
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		finishTree(sub)
	}
}

// noArgs refuses positional arguments with the first one named.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErr("%s: unexpected argument %q", cmd.CommandPath(), args[0])
	}
	return nil
}

// passthrough mounts a command that parses its own flags (and prints its own
// help): fn gets everything after the command's name and returns the exit
// code.
func passthrough(name, short string, fn func(args []string, stdout, stderr io.Writer) int) *cobra.Command {
	return &cobra.Command{
		Use:                name + " [flags]",
		Short:              short,
		DisableFlagParsing: true,
		Args:               cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := fn(args, cmd.OutOrStdout(), cmd.ErrOrStderr()); code != 0 {
				return &errExit{code: code}
			}
			return nil
		},
	}
}

func versionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(stdout, "exekra", version)
			return nil
		},
	}
}

// signalContext is cancelled on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
