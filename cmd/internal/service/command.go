package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Program is a console command a service runs (serve, runner): it returns
// its exit code after ctx ends and it has stopped gracefully.
type Program func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// Manager is the operating system's service manager: the Windows service
// control manager, or systemd.
type Manager interface {
	Install(Spec) error
	Uninstall(name string) error
	Start(name string) error
	Stop(name string) error
	// Status is a word or two: running, stopped, not installed, …
	Status(name string) (string, error)
}

// Options is what Main needs from the binary it is part of.
type Options struct {
	// Programs are the commands a service may run, by name (serve, runner).
	Programs map[string]Program
	// Validate checks a target's flags at install time, so a typo fails
	// now rather than at the service's first start (nil: no check).
	Validate func(target string, args []string) error
	// Getenv reads the installer's environment (os.Getenv when nil).
	Getenv func(string) string
	// Executable is this binary's path (os.Executable when nil).
	Executable func() (string, error)
	// Manager is the service manager (this platform's when nil).
	Manager Manager
	// GOOS decides names and paths (runtime.GOOS when empty).
	GOOS string
}

// Usage is `exekra service --help`.
const Usage = `usage: exekra service <action> [flags] [serve|runner [FLAGS...]]

Installs and controls the Hub (serve) or an unattended runner (runner) as a
Windows service or a systemd unit (docs/windows.md, docs/deploy/README.md).

actions:
  install [--name N] [--user U] serve|runner [FLAGS...]
        register the service; it runs exactly "exekra serve|runner FLAGS...",
        starts at boot and restarts on failure. serve gets --data-dir
        %ProgramData%\Exekra (Windows) or /var/lib/exekra (Linux) unless given.
        --jwt-secret and --machine-secret (or EXEKRA_JWT_SECRET and
        EXEKRA_MACHINE_SECRET in this shell) go to the service's private
        environment file, never onto its command line.
  uninstall [--name N] [serve|runner]   stop and remove the service (data stays)
  start     [--name N] [serve|runner]   start it now
  stop      [--name N] [serve|runner]   stop it gracefully
  status    [--name N] [serve|runner]   print its state
  run       --name N [--log-file F] [--env-file F] [--work-dir D] serve|runner [FLAGS...]
        what the service manager starts (not for consoles)

flags:
  --name N   service name (default: ExekraHubService / ExekraRunner on Windows,
             exekra / exekra-runner on Linux)
  --user U   account to run as (default: LocalSystem on Windows, the
             dedicated user "exekra" on Linux, created when missing); on
             Windows a password comes from EXEKRA_SERVICE_PASSWORD, and
             "NT SERVICE\<name>" (a virtual account) needs none
`

// usageError is a wrong command line: one line on stderr, exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: "exekra service: " + fmt.Sprintf(format, args...)}
}

// Main runs `exekra service ARGS…` and returns the exit code: 0 when done,
// 1 when the service manager refused, 2 for a wrong command line.
func Main(args []string, stdout, stderr io.Writer, o Options) int {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Executable == nil {
		o.Executable = os.Executable
	}
	if o.GOOS == "" {
		o.GOOS = runtime.GOOS
	}
	err := dispatch(args, stdout, stderr, &o)
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, Usage)
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, ue.msg)
		return 2
	case errors.Is(err, errExit):
		return exitOf(err)
	}
	fmt.Fprintln(stderr, "exekra service:", err)
	return 1
}

// errExit carries a hosted program's exit code out of dispatch.
var errExit = errors.New("exit")

type exitError struct{ code int }

func (e *exitError) Error() string   { return fmt.Sprintf("exit code %d", e.code) }
func (e *exitError) Is(t error) bool { return t == errExit }

func exitOf(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}

func (o *Options) manager() (Manager, error) {
	if o.Manager != nil {
		return o.Manager, nil
	}
	return newManager()
}

func dispatch(args []string, stdout, stderr io.Writer, o *Options) error {
	if len(args) == 0 {
		return usagef("missing action (install, uninstall, start, stop, status); see 'exekra service --help'")
	}
	action, rest := args[0], args[1:]
	switch action {
	case "-h", "--help", "help":
		return flag.ErrHelp
	case "install":
		return install(rest, stdout, o)
	case "uninstall", "start", "stop", "status":
		return control(action, rest, stdout, o)
	case "run":
		return hostCommand(rest, stdout, stderr, o)
	}
	return usagef("unknown action %q (install, uninstall, start, stop, status)", action)
}

// serviceFlags parses the flags before the target and returns the target
// and its own flags, untouched.
func serviceFlags(action string, args []string, withUser, targetRequired bool) (name, user, target string, rest []string, err error) {
	fs := flag.NewFlagSet("exekra service "+action, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&name, "name", "", "")
	if withUser {
		fs.StringVar(&user, "user", "", "")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", "", "", nil, err
		}
		return "", "", "", nil, usagef("%s: %v", action, err)
	}
	rest = fs.Args()
	if len(rest) == 0 {
		if targetRequired {
			return "", "", "", nil, usagef("%s: say what to run: serve (the Hub) or runner", action)
		}
		if name != "" {
			return name, user, "", nil, nil
		}
		return name, user, TargetHub, nil, nil
	}
	target, rest = rest[0], rest[1:]
	if target != TargetHub && target != TargetRunner {
		return "", "", "", nil, usagef("%s: unknown program %q (serve or runner)", action, target)
	}
	return name, user, target, rest, nil
}

func install(args []string, stdout io.Writer, o *Options) error {
	name, user, target, rest, err := serviceFlags("install", args, true, true)
	if err != nil {
		return err
	}
	if hasHelp(rest) {
		return flag.ErrHelp
	}
	if name == "" {
		name = defaultName(o.GOOS, target)
	}
	if strings.ContainsAny(name, `/\ "'`) || name == "" {
		return usagef("install: --name %q: use letters, digits, - and _", name)
	}
	progArgs, env := extractSecrets(target, rest, o.Getenv)
	dataDir := defaultDataDir(o.GOOS, target, name, o.Getenv)
	if target == TargetHub {
		progArgs, dataDir = withDataDir(progArgs, dataDir)
	}
	if o.Validate != nil {
		if err := o.Validate(target, progArgs); err != nil {
			return &usageError{msg: err.Error()} // the program's own one line
		}
	}
	exe, err := o.Executable()
	if err != nil {
		return fmt.Errorf("cannot find this program's path: %w", err)
	}
	if exe, err = filepath.Abs(exe); err != nil {
		return err
	}
	s := Spec{
		Name: name, DisplayName: displayName(target), Description: description(target),
		Target: target, Exe: exe, Args: progArgs, DataDir: dataDir,
		EnvFile: envFilePath(o.GOOS, name, dataDir), LogFile: logFilePath(o.GOOS, name, dataDir),
		User: user, Env: env,
	}
	if o.GOOS == "windows" && user != "" && !strings.HasPrefix(strings.ToUpper(user), `NT SERVICE\`) {
		s.Password = o.Getenv("EXEKRA_SERVICE_PASSWORD")
	}
	m, err := o.manager()
	if err != nil {
		return err
	}
	if err := m.Install(s); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "installed service %s: %s %s\n", name, exe, strings.Join(append([]string{target}, progArgs...), " "))
	fmt.Fprintf(stdout, "data dir: %s\n", dataDir)
	if len(env) > 0 {
		fmt.Fprintf(stdout, "secrets kept in %s (not on the command line)\n", s.EnvFile)
	}
	if s.LogFile != "" {
		fmt.Fprintf(stdout, "log: %s and the Windows Event Log (source %s)\n", s.LogFile, name)
	}
	startHint := "exekra service start " + target
	if name != defaultName(o.GOOS, target) {
		startHint = "exekra service start --name " + name
	}
	fmt.Fprintf(stdout, "it starts at boot and restarts on failure; start it now with: %s\n", startHint)
	return nil
}

func control(action string, args []string, stdout io.Writer, o *Options) error {
	name, _, target, rest, err := serviceFlags(action, args, false, false)
	if err != nil {
		return err
	}
	if hasHelp(rest) {
		return flag.ErrHelp
	}
	if len(rest) > 0 {
		return usagef("%s: unexpected argument %q", action, rest[0])
	}
	if name == "" {
		name = defaultName(o.GOOS, target)
	}
	m, err := o.manager()
	if err != nil {
		return err
	}
	switch action {
	case "uninstall":
		if err := m.Uninstall(name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed service %s (its data dir and environment file are kept)\n", name)
	case "start":
		if err := m.Start(name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "started %s\n", name)
	case "stop":
		if err := m.Stop(name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "stopped %s\n", name)
	case "status":
		st, err := m.Status(name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %s\n", name, st)
	}
	return nil
}

// hostCommand is `service run`: load the environment file, then run the
// program under the service manager (or in this console when there is
// none).
func hostCommand(args []string, stdout, stderr io.Writer, o *Options) error {
	fs := flag.NewFlagSet("exekra service run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("name", "", "")
	logFile := fs.String("log-file", "", "")
	workDir := fs.String("work-dir", "", "")
	envFile := fs.String("env-file", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("run: %v", err)
	}
	rest := fs.Args()
	if *name == "" || len(rest) == 0 {
		return usagef("run: needs --name and the program (serve or runner)")
	}
	prog, ok := o.Programs[rest[0]]
	if !ok {
		return usagef("run: unknown program %q (serve or runner)", rest[0])
	}
	target, progArgs := rest[0], rest[1:]
	if *envFile != "" {
		env, err := readEnvFile(*envFile)
		if err != nil {
			return err
		}
		for k, v := range env {
			os.Setenv(k, v)
		}
	}
	if *workDir != "" {
		// A Windows service starts in C:\Windows\System32: shell nodes and
		// relative paths work in the service's own directory instead.
		if err := os.MkdirAll(*workDir, 0o700); err != nil {
			return fmt.Errorf("work dir: %w", err)
		}
		if err := os.Chdir(*workDir); err != nil {
			return fmt.Errorf("work dir: %w", err)
		}
	}
	if target == TargetHub && o.Getenv("EXEKRA_DATA_DIR") == "" {
		progArgs, _ = withDataDir(progArgs, defaultDataDir(o.GOOS, target, *name, o.Getenv))
	}
	code := host(*name, *logFile, func(ctx context.Context, stdout, stderr io.Writer) int {
		return prog(ctx, progArgs, stdout, stderr)
	}, stdout, stderr)
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// readEnvFile reads a service's environment file; a missing file is an
// empty environment (nothing was secret at install time).
func readEnvFile(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("environment file: %w", err)
	}
	env, err := parseEnv(string(raw))
	if err != nil {
		return nil, fmt.Errorf("environment file %s: %w", path, err)
	}
	return env, nil
}

func hasHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			return true
		}
	}
	return false
}
