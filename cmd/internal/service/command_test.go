package service

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeManager records what the command asked of the service manager.
type fakeManager struct {
	installed map[string]Spec
	calls     []string
	fail      error
}

func (f *fakeManager) Install(s Spec) error {
	f.calls = append(f.calls, "install "+s.Name)
	if f.fail != nil {
		return f.fail
	}
	if f.installed == nil {
		f.installed = map[string]Spec{}
	}
	f.installed[s.Name] = s
	return nil
}
func (f *fakeManager) Uninstall(name string) error {
	f.calls = append(f.calls, "uninstall "+name)
	return f.fail
}
func (f *fakeManager) Start(name string) error {
	f.calls = append(f.calls, "start "+name)
	return f.fail
}
func (f *fakeManager) Stop(name string) error { f.calls = append(f.calls, "stop "+name); return f.fail }
func (f *fakeManager) Status(name string) (string, error) {
	f.calls = append(f.calls, "status "+name)
	return "running", f.fail
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func runMain(t *testing.T, o Options, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, &out, &errb, o)
	return code, out.String(), errb.String()
}

func TestInstallTheHubOnWindows(t *testing.T) {
	m := &fakeManager{}
	o := Options{
		Manager: m, GOOS: "windows",
		Getenv:     env(map[string]string{"ProgramData": `D:\ProgramData`, "EXEKRA_JWT_SECRET": "from-the-shell"}),
		Executable: func() (string, error) { return "/opt/exekra/exekra.exe", nil },
	}
	code, out, errOut := runMain(t, o, "install", "serve", "--addr", ":8443", "--rate-limit=50")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	s, ok := m.installed["ExekraHubService"]
	if !ok {
		t.Fatalf("installed %v, want ExekraHubService", m.installed)
	}
	wantArgs := []string{"--addr", ":8443", "--rate-limit=50", "--data-dir", `D:\ProgramData\Exekra`}
	if s.Target != "serve" || !slices.Equal(s.Args, wantArgs) || s.DataDir != `D:\ProgramData\Exekra` {
		t.Fatalf("spec %+v, want serve %q in D:\\ProgramData\\Exekra", s, wantArgs)
	}
	if s.EnvFile != `D:\ProgramData\Exekra\ExekraHubService.env` || s.LogFile != `D:\ProgramData\Exekra\logs\ExekraHubService.log` {
		t.Errorf("env file %s, log file %s", s.EnvFile, s.LogFile)
	}
	if s.Env["EXEKRA_JWT_SECRET"] != "from-the-shell" {
		t.Errorf("env %v: the shell's JWT secret belongs in the environment file", s.Env)
	}
	// The SCM starts `service run …` followed by exactly the console's
	// command line.
	host := hostArgs(s)
	i := slices.Index(host, "serve")
	if i < 0 || !slices.Equal(host[i+1:], wantArgs) || !slices.Contains(host[:i], "--name") {
		t.Errorf("host command line %q", host)
	}
	for _, want := range []string{"installed service ExekraHubService", `D:\ProgramData\Exekra`, "exekra service start serve", "Event Log"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "from-the-shell") {
		t.Error("the output shows the secret")
	}
}

func TestInstallARunnerKeepsItsSecretOffTheCommandLine(t *testing.T) {
	m := &fakeManager{}
	o := Options{Manager: m, GOOS: "linux", Getenv: env(nil), Executable: func() (string, error) { return "/usr/local/bin/exekra", nil }}
	code, _, errOut := runMain(t, o, "install", "--name", "robot-7", "--user", "robot", "runner",
		"--url", "https://hub:4545", "--machine-key", "mk_1", "--machine-secret", "s3cret", "--allow-shell")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	s := m.installed["robot-7"]
	if want := []string{"--url", "https://hub:4545", "--machine-key", "mk_1", "--allow-shell"}; !slices.Equal(s.Args, want) {
		t.Errorf("args %q, want %q", s.Args, want)
	}
	if s.Env["EXEKRA_MACHINE_SECRET"] != "s3cret" || s.User != "robot" || s.DataDir != "/var/lib/robot-7" || s.EnvFile != "/etc/exekra/robot-7.env" {
		t.Errorf("spec %+v", s)
	}
}

func TestInstallRefusesWhatWouldFailLater(t *testing.T) {
	o := Options{
		Manager: &fakeManager{}, GOOS: "linux", Getenv: env(nil),
		Validate: func(target string, args []string) error {
			if slices.Contains(args, "--adr") {
				return &usageError{msg: "exekra serve: flag provided but not defined: -adr"}
			}
			return nil
		},
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "missing action"},
		{[]string{"frobnicate"}, "unknown action"},
		{[]string{"install"}, "say what to run"},
		{[]string{"install", "studio"}, `unknown program "studio"`},
		{[]string{"install", "--nme", "x", "serve"}, "flag provided but not defined"},
		{[]string{"install", "--name", "a b", "serve"}, "--name"},
		{[]string{"install", "serve", "--adr", ":1"}, "-adr"},
		{[]string{"status", "serve", "extra"}, `unexpected argument "extra"`},
		{[]string{"run", "serve"}, "needs --name"},
	} {
		code, _, errOut := runMain(t, o, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q; want 2 and one line with %q", tc.args, code, errOut, tc.want)
		}
	}
	for _, args := range [][]string{{"--help"}, {"help"}, {"install", "serve", "--help"}, {"status", "-h"}} {
		if code, out, _ := runMain(t, o, args...); code != 0 || !strings.Contains(out, "usage: exekra service") {
			t.Errorf("%q: exit %d, output %q", args, code, out)
		}
	}
}

func TestControlActionsUseTheDefaultNames(t *testing.T) {
	for _, tc := range []struct {
		goos string
		args []string
		call string
	}{
		{"windows", []string{"start"}, "start ExekraHubService"},
		{"windows", []string{"stop", "runner"}, "stop ExekraRunner"},
		{"windows", []string{"uninstall", "--name", "Robot2"}, "uninstall Robot2"},
		{"linux", []string{"status", "serve"}, "status exekra"},
		{"linux", []string{"status", "runner"}, "status exekra-runner"},
	} {
		m := &fakeManager{}
		code, out, errOut := runMain(t, Options{Manager: m, GOOS: tc.goos}, tc.args...)
		if code != 0 || !slices.Equal(m.calls, []string{tc.call}) {
			t.Errorf("%s %q: exit %d (%s), calls %q, want %q", tc.goos, tc.args, code, errOut, m.calls, tc.call)
		}
		if out == "" {
			t.Errorf("%q printed nothing", tc.args)
		}
	}
	m := &fakeManager{fail: errors.New("access denied")}
	if code, _, errOut := runMain(t, Options{Manager: m, GOOS: "linux"}, "start"); code != 1 || !strings.Contains(errOut, "access denied") {
		t.Errorf("a refused start: exit %d, %q", code, errOut)
	}
}

func TestRunHostsTheProgramWithItsEnvironmentAndLog(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "hub.env")
	if err := os.WriteFile(envFile, []byte("# secrets\nEXEKRA_TEST_SERVICE_SECRET=abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Unsetenv("EXEKRA_TEST_SERVICE_SECRET") })
	wd, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(wd) })
	var gotArgs []string
	var gotSecret, gotDir string
	prog := func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		gotArgs, gotSecret = args, os.Getenv("EXEKRA_TEST_SERVICE_SECRET")
		gotDir, _ = os.Getwd()
		io.WriteString(stderr, "level=INFO msg=\"exekra serving\"\n")
		return 3
	}
	logFile := filepath.Join(dir, "logs", "hub.log")
	work := filepath.Join(dir, "work")
	o := Options{GOOS: "linux", Getenv: env(nil), Programs: map[string]Program{"serve": prog}}
	code, _, errOut := runMain(t, o, "run", "--name", "exekra", "--log-file", logFile, "--env-file", envFile, "--work-dir", work,
		"serve", "--addr", ":1")
	if code != 3 {
		t.Fatalf("exit %d (%s), want the program's 3", code, errOut)
	}
	if want := []string{"--addr", ":1", "--data-dir", "/var/lib/exekra"}; !slices.Equal(gotArgs, want) {
		t.Errorf("program args %q, want %q", gotArgs, want)
	}
	if gotSecret != "abc" {
		t.Errorf("the program saw secret %q", gotSecret)
	}
	if real, _ := filepath.EvalSymlinks(work); gotDir != real && gotDir != work {
		t.Errorf("working dir %s, want %s", gotDir, work)
	}
	raw, err := os.ReadFile(logFile)
	if err != nil || !strings.Contains(string(raw), "exekra serving") {
		t.Errorf("log file: %q, %v", raw, err)
	}
}
