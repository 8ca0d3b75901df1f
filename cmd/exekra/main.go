// Command exekra is the Exekra Orchestrator: the server (serve), its license
// tooling (license keygen, license issue), operations commands and the
// reference runner. Only this package sees more than one adapter: it wires
// storage, the actor system and the HTTP layer together.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/exekra/orchestrator/cmd/internal/loadgen"
	"github.com/exekra/orchestrator/cmd/internal/refrunner"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

// errUsage marks a command-line error: one line on stderr, exit code 2.
type errUsage struct{ msg string }

func (e *errUsage) Error() string { return e.msg }

func usageErr(format string, args ...any) error { return &errUsage{msg: fmt.Sprintf(format, args...)} }

const topUsage = `usage: exekra <command> [flags]

commands:
  serve            run the orchestrator server
  license keygen   create a license signing key pair
  license issue    issue a signed license
  runner           run the reference runner (exekra runner --url URL --machine-key K --machine-secret S)
  loadtest         run a load scenario against a server on 127.0.0.1 (exekra loadtest <scenario>)
  backup           copy a stopped server's database (exekra backup --data-dir DIR --out FILE)
  restore          install a backup (exekra restore --from FILE --data-dir DIR [--force])
  compact          shrink a stopped server's database file (exekra compact --data-dir DIR)
  service          install serve or runner as a Windows service or systemd unit (exekra service --help)
  version          print the version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// run dispatches a command line and returns the exit code.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		// One line, as for every other wrong command line (SPEC §13);
		// `exekra help` prints the whole usage.
		fmt.Fprintln(stderr, "exekra: missing command (serve, license, runner, backup, restore, compact, version); see 'exekra help'")
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serveCommand(args[1:], stdout, stderr, getenv)
	case "license":
		err = licenseCommand(args[1:], stdout)
	case "runner":
		ctx, stop := signalContext()
		defer stop()
		return refrunner.Main(ctx, args[1:], stdout, stderr)
	case "service":
		return runService(args[1:], stdout, stderr)
	case "loadtest":
		return loadgen.Main(args[1:], stdout, stderr)
	case "backup":
		err = backupCommand(args[1:], stdout, getenv)
	case "restore":
		err = restoreCommand(args[1:], stdout, onlyEnv(getenv, "EXEKRA_DATA_DIR"))
	case "compact":
		err = compactCommand(args[1:], stdout, getenv)
	case "version", "--version", "-version":
		if len(args) > 1 {
			err = usageErr("exekra version: takes no arguments")
		} else {
			fmt.Fprintln(stdout, "exekra", version)
		}
	case "help", "-h", "--help":
		fmt.Fprint(stdout, topUsage)
	default:
		err = usageErr("exekra: unknown command %q (try: serve, license, version)", args[0])
	}
	return exitCode(err, stderr)
}

// exitCode prints err (one line) and maps it to an exit code.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ue *errUsage
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, ue.msg)
		return 2
	}
	fmt.Fprintln(stderr, "exekra:", err)
	return 1
}

// signalContext is cancelled on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
