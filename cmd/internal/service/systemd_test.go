package service

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/exekra/orchestrator/docs/deploy"
)

func TestSystemdQuote(t *testing.T) {
	for in, want := range map[string]string{
		"--addr":            "--addr",
		":4545":             ":4545",
		"/srv/exekra data":  `"/srv/exekra data"`,
		"100%":              "100%%",
		"$HOME":             "$$HOME",
		`say "hi"`:          `"say \"hi\""`,
		`C:\x`:              `"C:\\x"`,
		"":                  `""`,
		"--data-dir=/a;b":   `"--data-dir=/a;b"`,
		"--rate-limit=100":  "--rate-limit=100",
		"https://hub:4545/": "https://hub:4545/",
	} {
		if got := systemdQuote(in); got != want {
			t.Errorf("systemdQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// unitLines returns the unit's settings as key → values.
func unitLines(unit string) map[string][]string {
	out := map[string][]string{}
	for _, line := range strings.Split(unit, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			out[k] = append(out[k], v)
		}
	}
	return out
}

func TestRenderUnit(t *testing.T) {
	hub := Spec{Name: "exekra", DisplayName: "Exekra Orchestrator Hub", Target: TargetHub, Exe: "/opt/exekra/bin/exekra",
		Args: []string{"--addr", ":8443", "--data-dir", "/var/lib/exekra"}, DataDir: "/var/lib/exekra", EnvFile: "/etc/exekra/exekra.env"}
	unit, err := renderUnit(deploy.HubUnit, hub)
	if err != nil {
		t.Fatal(err)
	}
	got := unitLines(unit)
	want := map[string]string{
		"ExecStart":        "/opt/exekra/bin/exekra serve --addr :8443 --data-dir /var/lib/exekra",
		"User":             "exekra",
		"ReadWritePaths":   "/var/lib/exekra",
		"StateDirectory":   "exekra",
		"EnvironmentFile":  "-/etc/exekra/exekra.env",
		"NoNewPrivileges":  "yes",
		"ProtectSystem":    "strict",
		"Restart":          "on-failure",
		"WorkingDirectory": "/var/lib/exekra",
	}
	for k, v := range want {
		if !slices.Equal(got[k], []string{v}) {
			t.Errorf("hub unit %s=%q, want %q", k, got[k], v)
		}
	}
	// Only what is replaced differs from the verified unit.
	base := unitLines(deploy.HubUnit)
	for k, v := range base {
		if _, replaced := want[k]; !replaced && k != "Description" && k != "Group" && !slices.Equal(got[k], v) {
			t.Errorf("%s changed: %q → %q", k, v, got[k])
		}
	}

	runner := Spec{Name: "robot-7", DisplayName: "Exekra Runner", Target: TargetRunner, Exe: "/usr/local/bin/exekra", User: "robot",
		Args: []string{"--url", "https://hub:4545", "--ca-cert", "/etc/exekra/hub ca.pem"}, DataDir: "/srv/robots/7", EnvFile: "/etc/exekra/robot-7.env"}
	unit, err = renderUnit(deploy.HubUnit, runner)
	if err != nil {
		t.Fatal(err)
	}
	got = unitLines(unit)
	if want := `/usr/local/bin/exekra runner --url https://hub:4545 --ca-cert "/etc/exekra/hub ca.pem"`; !slices.Equal(got["ExecStart"], []string{want}) {
		t.Errorf("runner ExecStart %q, want %q", got["ExecStart"], want)
	}
	if got["User"][0] != "robot" || got["ReadWritePaths"][0] != "/srv/robots/7" || got["StateDirectory"] != nil {
		t.Errorf("runner unit: User %q, ReadWritePaths %q, StateDirectory %q (a data dir outside /var/lib is no StateDirectory)",
			got["User"], got["ReadWritePaths"], got["StateDirectory"])
	}
	for _, k := range []string{"MemoryDenyWriteExecute", "SystemCallFilter", "ProcSubset"} {
		if got[k] != nil {
			t.Errorf("runner unit keeps %s, which breaks the programs its shell nodes run", k)
		}
	}
	if got["NoNewPrivileges"] == nil || got["ProtectSystem"] == nil {
		t.Error("runner unit lost its basic hardening")
	}

	if _, err := renderUnit("[Service]\nUser=x\n", hub); err == nil || !strings.Contains(err.Error(), "no ") {
		t.Errorf("a template missing lines rendered: %v", err)
	}
}

// fakeSystem is the machine a systemd installation changes: commands are
// recorded, the unit directory is a temp dir.
func fakeSystem(t *testing.T, users ...string) (*systemd, *[]string) {
	t.Helper()
	var calls []string
	d := &systemd{
		unitDir: t.TempDir(),
		run: func(name string, args ...string) ([]byte, error) {
			calls = append(calls, name+" "+strings.Join(args, " "))
			if name == "systemctl" && args[0] == "is-active" {
				return []byte("active\n"), nil
			}
			return nil, nil
		},
		userExists: func(name string) bool { return slices.Contains(users, name) },
		isRoot:     func() bool { return true },
		booted:     func() bool { return true },
	}
	return d, &calls
}

func TestSystemdInstallAndUninstall(t *testing.T) {
	d, calls := fakeSystem(t)
	dir := t.TempDir()
	s := Spec{Name: "exekra", DisplayName: "Exekra Orchestrator Hub", Target: TargetHub, Exe: "/usr/local/bin/exekra",
		Args: []string{"--data-dir", filepath.Join(dir, "data")}, DataDir: filepath.Join(dir, "data"),
		EnvFile: filepath.Join(dir, "etc", "exekra.env"), Env: map[string]string{"EXEKRA_JWT_SECRET": "j"}}
	if err := d.Install(s); err != nil {
		t.Fatal(err)
	}
	wantCalls := []string{
		"useradd --system --user-group --home-dir " + s.DataDir + " --no-create-home --shell /usr/sbin/nologin exekra",
		"chown exekra: " + s.DataDir,
		"systemctl daemon-reload",
		"systemctl enable exekra.service",
	}
	if !slices.Equal(*calls, wantCalls) {
		t.Errorf("commands %q\nwant %q", *calls, wantCalls)
	}
	unit, err := os.ReadFile(filepath.Join(d.unitDir, "exekra.service"))
	if err != nil || !strings.Contains(string(unit), "ExecStart=/usr/local/bin/exekra serve --data-dir "+s.DataDir) {
		t.Fatalf("unit: %v\n%s", err, unit)
	}
	fi, err := os.Stat(s.EnvFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("env file: %v %v", fi, err)
	}
	if err := d.Install(s); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a second install: %v", err)
	}
	if st, err := d.Status("exekra"); err != nil || st != "active" {
		t.Errorf("status %q, %v", st, err)
	}

	*calls = nil
	if err := d.Uninstall("exekra"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"systemctl disable --now exekra.service", "systemctl daemon-reload"}; !slices.Equal(*calls, want) {
		t.Errorf("uninstall commands %q, want %q", *calls, want)
	}
	if st, _ := d.Status("exekra"); st != "not installed" {
		t.Errorf("status after uninstall: %q", st)
	}
	if _, err := os.Stat(s.DataDir); err != nil {
		t.Errorf("uninstall removed the data dir: %v", err)
	}
	if err := d.Uninstall("exekra"); err == nil {
		t.Error("uninstalling twice succeeded")
	}
}

func TestSystemdNeedsRootAndKeepsExistingUsers(t *testing.T) {
	d, calls := fakeSystem(t, "exekra")
	d.isRoot = func() bool { return false }
	s := Spec{Name: "exekra", Target: TargetHub, Exe: "/x", DataDir: t.TempDir(), EnvFile: "/nonexistent/e.env"}
	if err := d.Install(s); err == nil || !strings.Contains(err.Error(), "root") {
		t.Fatalf("install without root: %v", err)
	}
	d.booted = func() bool { return false }
	if err := d.Install(s); err == nil || !strings.Contains(err.Error(), "systemd does not run") || len(*calls) > 0 {
		t.Fatalf("install without systemd: %v, commands %q", err, *calls)
	}
	d.booted = func() bool { return true }
	d.isRoot = func() bool { return true }
	if err := d.Install(s); err != nil {
		t.Fatal(err)
	}
	for _, c := range *calls {
		if strings.HasPrefix(c, "useradd") {
			t.Errorf("created an existing user: %s", c)
		}
	}
}

// TestRenderedUnitsVerify runs systemd-analyze verify (make lint installs
// it) on the units install writes, the runner's included.
func TestRenderedUnitsVerify(t *testing.T) {
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (make lint installs it)")
	}
	dir := t.TempDir()
	for _, s := range []Spec{
		{Name: "exekra", DisplayName: "Exekra Orchestrator Hub", Target: TargetHub, Exe: "/bin/sh",
			Args: []string{"--data-dir", "/var/lib/exekra", "--addr", "127.0.0.1:4545"}, DataDir: "/var/lib/exekra", EnvFile: "/etc/exekra/exekra.env"},
		{Name: "robot-7", DisplayName: "Exekra Runner", Target: TargetRunner, Exe: "/bin/sh", User: "robot",
			Args: []string{"--url", "https://hub:4545", "--ca-cert", "/etc/exekra/hub ca.pem"}, DataDir: "/srv/robots/7", EnvFile: "/etc/exekra/robot-7.env"},
	} {
		unit, err := renderUnit(deploy.HubUnit, s)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, s.Name+".service")
		if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(tool, "verify", "--man=no", path).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("%s: systemd-analyze verify: %v\n%s\n%s", s.Name, err, out, unit)
		}
	}
}
