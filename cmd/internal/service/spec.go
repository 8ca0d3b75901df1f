package service

import (
	"fmt"
	"slices"
	"strings"
)

// The programs a service can run, named as their console commands.
const (
	TargetHub    = "serve"
	TargetRunner = "runner"
)

// Spec is one service to install.
type Spec struct {
	// Name is the service's name (ExekraHubService; exekra on Linux).
	Name        string
	DisplayName string
	Description string
	// Target is TargetHub or TargetRunner.
	Target string
	// Exe is the absolute path of the exekra binary.
	Exe string
	// Args is the program's command line after the target: the flags of
	// the console start, secrets taken out (they are in Env).
	Args []string
	// DataDir holds the service's files: serve's --data-dir; for a runner,
	// its working directory, log and environment file.
	DataDir string
	// EnvFile holds Env, readable by the service account and Administrators
	// (root) only; LogFile is the log the service writes besides the Event
	// Log (Windows; systemd services log to the journal).
	EnvFile, LogFile string
	// User is the account the service runs as ("" = the platform's
	// default: LocalSystem on Windows, exekra on Linux); Password is the
	// account's, when it has one.
	User, Password string
	// Env is what the program reads from its environment: secrets that
	// must not appear on a command line, which other local users can read.
	Env map[string]string
}

// defaultName is a target's service name on goos: ExekraHubService and
// ExekraRunner on Windows (the names docs/windows.md uses), exekra and
// exekra-runner (systemd units) elsewhere.
func defaultName(goos, target string) string {
	switch {
	case goos == "windows" && target == TargetHub:
		return "ExekraHubService"
	case goos == "windows":
		return "ExekraRunner"
	case target == TargetHub:
		return "exekra"
	}
	return "exekra-runner"
}

// displayName and description are what services.msc and systemctl show.
func displayName(target string) string {
	if target == TargetHub {
		return "Exekra Orchestrator Hub"
	}
	return "Exekra Runner"
}

func description(target string) string {
	if target == TargetHub {
		return "Exekra Orchestrator: stores workflows, queues executions and hands them to runners (exekra serve)."
	}
	return "Exekra reference runner: polls the Hub for work and executes workflow graphs (exekra runner)."
}

// joinPath joins path elements with goos's separator, so that Windows
// paths can be built and tested on any platform.
func joinPath(goos string, elem ...string) string {
	sep := "/"
	if goos == "windows" {
		sep = `\`
	}
	out := ""
	for i, e := range elem {
		if i > 0 {
			out = strings.TrimRight(out, `/\`) + sep
			e = strings.TrimLeft(e, `/\`)
		}
		out += e
	}
	return out
}

// programData is %ProgramData% (C:\ProgramData unless moved).
func programData(getenv func(string) string) string {
	if p := getenv("ProgramData"); p != "" {
		return p
	}
	return `C:\ProgramData`
}

// defaultDataDir is where a service keeps its files on goos: the Hub's
// database in %ProgramData%\Exekra (/var/lib/exekra), a runner's working
// directory, log and environment file in %ProgramData%\<name>
// (/var/lib/<name>).
func defaultDataDir(goos, target, name string, getenv func(string) string) string {
	if goos == "windows" {
		if target == TargetHub {
			return joinPath(goos, programData(getenv), "Exekra")
		}
		return joinPath(goos, programData(getenv), name)
	}
	return joinPath(goos, "/var/lib", name)
}

// envFilePath is where a service's secrets are kept: beside its data on
// Windows (the data dir is private), /etc/exekra/<name>.env for systemd
// (read by systemd as root before the service's privileges drop).
func envFilePath(goos, name, dataDir string) string {
	if goos == "windows" {
		return joinPath(goos, dataDir, name+".env")
	}
	return "/etc/exekra/" + name + ".env"
}

// logFilePath is the service's log file on Windows (systemd keeps the
// journal instead; "" there).
func logFilePath(goos, name, dataDir string) string {
	if goos == "windows" {
		return joinPath(goos, dataDir, "logs", name+".log")
	}
	return ""
}

// flagValue finds --name (or -name) in a Go flag command line, either as
// "--name value" or "--name=value".
func flagValue(args []string, name string) (value string, at int, ok bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		bare := strings.TrimLeft(a, "-")
		if len(a)-len(bare) < 1 || len(a)-len(bare) > 2 {
			continue
		}
		if bare == name && i+1 < len(args) {
			return args[i+1], i, true
		}
		if v, found := strings.CutPrefix(bare, name+"="); found {
			return v, i, true
		}
	}
	return "", -1, false
}

// removeFlag returns args without the flag found at index at.
func removeFlag(args []string, at int) []string {
	n := 1
	if !strings.Contains(args[at], "=") {
		n = 2
	}
	out := append([]string{}, args[:at]...)
	return append(out, args[at+n:]...)
}

// withDataDir makes serve's data dir explicit: the --data-dir given, or
// dir appended. A service must never fall back to ./data, which for a
// Windows service is inside C:\Windows\System32.
func withDataDir(args []string, dir string) ([]string, string) {
	if v, _, ok := flagValue(args, "data-dir"); ok {
		return args, v
	}
	return append(append([]string{}, args...), "--data-dir", dir), dir
}

// secretFlags are the flags whose values a service keeps in its
// environment file instead of its command line, with their variables.
var secretFlags = map[string][][2]string{
	TargetHub:    {{"jwt-secret", "EXEKRA_JWT_SECRET"}},
	TargetRunner: {{"machine-secret", "EXEKRA_MACHINE_SECRET"}},
}

// extractSecrets moves the target's secret flags out of args into an
// environment; a secret not on the command line is taken from the
// installer's environment, where the README tells users to put it.
func extractSecrets(target string, args []string, getenv func(string) string) ([]string, map[string]string) {
	env := map[string]string{}
	args = append([]string{}, args...)
	for _, sf := range secretFlags[target] {
		flag, variable := sf[0], sf[1]
		for {
			v, at, ok := flagValue(args, flag)
			if !ok {
				break
			}
			env[variable] = v
			args = removeFlag(args, at)
		}
		if _, ok := env[variable]; !ok {
			if v := getenv(variable); v != "" {
				env[variable] = v
			}
		}
	}
	return args, env
}

// hostArgs is the command line the Windows service control manager starts:
// `exekra service run` with the service's name, log and environment file,
// then exactly the console command (`serve --data-dir …`).
func hostArgs(s Spec) []string {
	args := []string{"service", "run", "--name", s.Name}
	if s.LogFile != "" {
		args = append(args, "--log-file", s.LogFile)
	}
	if s.EnvFile != "" {
		args = append(args, "--env-file", s.EnvFile)
	}
	if s.DataDir != "" {
		args = append(args, "--work-dir", s.DataDir)
	}
	return append(append(args, s.Target), s.Args...)
}

// formatEnv renders an environment file: KEY=VALUE lines, sorted.
func formatEnv(env map[string]string) (string, error) {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString("# Written by exekra service install; readable by the service account and Administrators (root) only.\n")
	for _, k := range keys {
		v := env[k]
		if strings.ContainsAny(v, "\r\n") {
			return "", fmt.Errorf("the value of %s spans lines", k)
		}
		fmt.Fprintf(&b, "%s=%s\n", k, v)
	}
	return b.String(), nil
}

// parseEnv reads an environment file (KEY=VALUE lines; blank lines and
// lines starting with # are skipped; values are taken as written, as
// systemd's EnvironmentFile= takes unquoted values).
func parseEnv(text string) (map[string]string, error) {
	env := map[string]string{}
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("line %d: want KEY=VALUE", i+1)
		}
		env[k] = strings.TrimSpace(v)
	}
	return env, nil
}
