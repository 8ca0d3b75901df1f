package service

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/exekra/orchestrator/docs/deploy"
)

// systemd installs services as systemd units rendered from
// docs/deploy/exekra.service. Its outside effects (commands, the user
// database, file ownership) go through functions, so tests run it on a
// temporary directory with a fake systemctl.
type systemd struct {
	unitDir string // /etc/systemd/system
	// run runs a command and returns its combined output.
	run        func(name string, args ...string) ([]byte, error)
	userExists func(name string) bool
	isRoot     func() bool
	// booted says whether systemd runs this machine (sd_booted's test).
	booted func() bool
}

// defaultUnixUser is the dedicated account services run as.
const defaultUnixUser = "exekra"

func (d *systemd) unitPath(name string) string { return filepath.Join(d.unitDir, name+".service") }

func (d *systemd) systemctl(args ...string) error {
	out, err := d.run("systemctl", args...)
	if err != nil {
		return fmt.Errorf("systemctl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Install writes the unit, its environment file and data dir, creates the
// service user when missing, and enables the unit (it starts at boot;
// `service start` starts it now).
func (d *systemd) Install(s Spec) error {
	if !d.booted() {
		return errors.New("systemd does not run this machine (no /run/systemd/system): start exekra serve from your own init system, docs/deploy/README.md")
	}
	if !d.isRoot() {
		return errors.New("installing a systemd unit needs root: run it with sudo")
	}
	path := d.unitPath(s.Name)
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s already exists: uninstall the service first, or choose another --name", path)
	}
	if s.User == "" {
		s.User = defaultUnixUser
	}
	if !d.userExists(s.User) {
		if out, err := d.run("useradd", "--system", "--user-group", "--home-dir", s.DataDir, "--no-create-home",
			"--shell", "/usr/sbin/nologin", s.User); err != nil {
			return fmt.Errorf("useradd %s: %v: %s", s.User, err, strings.TrimSpace(string(out)))
		}
	}
	unit, err := renderUnit(deploy.HubUnit, s)
	if err != nil {
		return err
	}
	if len(s.Env) > 0 {
		text, err := formatEnv(s.Env)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(s.EnvFile), 0o700); err != nil {
			return fmt.Errorf("service: %w", err)
		}
		if err := os.WriteFile(s.EnvFile, []byte(text), 0o600); err != nil {
			return fmt.Errorf("service: %w", err)
		}
	}
	if err := os.MkdirAll(s.DataDir, 0o700); err != nil {
		return fmt.Errorf("service: data dir: %w", err)
	}
	if out, err := d.run("chown", s.User+":", s.DataDir); err != nil {
		return fmt.Errorf("chown %s: %v: %s", s.DataDir, err, strings.TrimSpace(string(out)))
	}
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	if err := d.systemctl("daemon-reload"); err != nil {
		return err
	}
	return d.systemctl("enable", s.Name+".service")
}

// Uninstall stops and disables the unit and removes its file; the data
// dir and the environment file stay.
func (d *systemd) Uninstall(name string) error {
	if !d.isRoot() {
		return errors.New("removing a systemd unit needs root: run it with sudo")
	}
	path := d.unitPath(name)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("service %s is not installed (no %s)", name, path)
	}
	if err := d.systemctl("disable", "--now", name+".service"); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	return d.systemctl("daemon-reload")
}

// Start starts the unit now.
func (d *systemd) Start(name string) error { return d.systemctl("start", name+".service") }

// Stop stops the unit: systemd sends SIGTERM, serve's graceful stop.
func (d *systemd) Stop(name string) error { return d.systemctl("stop", name+".service") }

// Status is systemd's word for the unit's state (active, inactive,
// failed, …), or "not installed".
func (d *systemd) Status(name string) (string, error) {
	if _, err := os.Stat(d.unitPath(name)); errors.Is(err, fs.ErrNotExist) {
		return "not installed", nil
	}
	// is-active exits non-zero for every state but active: the word is
	// the answer either way.
	out, _ := d.run("systemctl", "is-active", name+".service")
	state := strings.TrimSpace(string(out))
	if state == "" {
		return "", errors.New("systemctl is-active printed nothing")
	}
	return state, nil
}

// systemdQuote quotes one ExecStart argument: specifiers (%) and variable
// references ($) are escaped so they reach the program as written, and an
// argument with spaces, quotes or backslashes is double-quoted.
func systemdQuote(arg string) string {
	arg = strings.ReplaceAll(arg, "%", "%%")
	arg = strings.ReplaceAll(arg, "$", "$$")
	if arg != "" && !strings.ContainsAny(arg, " \t\"'\\;") {
		return arg
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(arg) + `"`
}

// runnerDropped are the hardening options of the Hub's unit that a runner's
// unit leaves out: its shell nodes run arbitrary programs (JIT compilers
// need writable executable memory and more system calls), and its host
// metrics read /proc/stat and /proc/meminfo.
var runnerDropped = map[string]bool{
	"MemoryDenyWriteExecute": true,
	"SystemCallFilter":       true,
	"SystemCallErrorNumber":  true,
	"ProcSubset":             true,
}

// renderUnit is the unit for s, made from the Hub's unit: the description,
// account, command line, environment file and data dir replaced; the data
// dir is the unit's StateDirectory when it lies in /var/lib (systemd then
// creates it 0700 for the account). Every key it replaces must be in the
// template, so the installed unit cannot drift from the verified one.
func renderUnit(template string, s Spec) (string, error) {
	user := s.User
	if user == "" {
		user = defaultUnixUser
	}
	exec := []string{systemdQuote(s.Exe), s.Target}
	for _, a := range s.Args {
		exec = append(exec, systemdQuote(a))
	}
	stateDir, inVarLib := strings.CutPrefix(filepath.Clean(s.DataDir), "/var/lib/")
	replace := map[string]string{
		"Description":      s.DisplayName,
		"User":             user,
		"Group":            user,
		"ExecStart":        strings.Join(exec, " "),
		"EnvironmentFile":  "-" + s.EnvFile,
		"WorkingDirectory": s.DataDir,
		"ReadWritePaths":   s.DataDir,
		"StateDirectory":   stateDir,
	}
	seen := map[string]bool{}
	var out []string
	// The template's opening comment tells how to install it by hand;
	// the installed unit starts at its first section instead.
	if i := strings.Index(template, "\n["); i >= 0 {
		template = template[i+1:]
	}
	for _, line := range strings.Split(template, "\n") {
		key, _, isSetting := strings.Cut(line, "=")
		if isSetting && !strings.HasPrefix(line, "#") {
			if (key == "StateDirectory" || key == "StateDirectoryMode") && !inVarLib {
				seen[key] = true
				continue
			}
			if s.Target == TargetRunner && runnerDropped[key] {
				continue
			}
			if v, ok := replace[key]; ok {
				seen[key] = true
				line = key + "=" + v
			}
		}
		out = append(out, line)
	}
	for key := range replace {
		if !seen[key] {
			return "", fmt.Errorf("service: the unit template has no %s= line", key)
		}
	}
	head := fmt.Sprintf("# %s.service: written by `exekra service install %s` from exekra.service\n"+
		"# (docs/deploy/README.md). Secrets: %s (root, 0600).\n\n", s.Name, s.Target, s.EnvFile)
	return head + strings.Join(out, "\n"), nil
}
