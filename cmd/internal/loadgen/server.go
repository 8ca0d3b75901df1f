package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Credentials of the admin that loadgen bootstraps on a server it manages.
const (
	loadEmail    = "loadtest@example.com"
	loadPassword = "loadtest-password-1"
)

// managedServer is an `exekra serve` process that loadgen started and owns.
type managedServer struct {
	dir     string // temp dir: keys, license, data dir, server log
	addr    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error
}

// freeLoopbackPort asks the kernel for a free 127.0.0.1 port.
func freeLoopbackPort() (string, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// runTool runs one short exekra subcommand and reports its output on failure.
func runTool(bin string, args ...string) error {
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s %s: %w", bin, args[0], err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s %s: %w: %s", bin, strings.Join(args[:min(2, len(args))], " "), err, strings.TrimSpace(out.String()))
		}
		return nil
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s %s: timed out", bin, args[0])
	}
}

// startManagedServer creates a temp dir, a license key pair and a license,
// starts `bin serve` on a free loopback port and returns once the process is
// running; the license text is returned for activation.
func startManagedServer(bin string, extra ...string) (*managedServer, string, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, "", fmt.Errorf("server binary %s: %w (build it with `make build` or pass --bin or --url)", bin, err)
	}
	dir, err := os.MkdirTemp("", "exekra-loadtest-")
	if err != nil {
		return nil, "", fmt.Errorf("temp dir: %w", err)
	}
	m := &managedServer{dir: dir, logPath: filepath.Join(dir, "server.log"), exited: make(chan struct{})}
	fail := func(err error) (*managedServer, string, error) {
		_ = os.RemoveAll(dir)
		return nil, "", err
	}
	keyDir := filepath.Join(dir, "keys")
	lic := filepath.Join(dir, "dev.lic")
	if err := runTool(bin, "license", "keygen", "--out", keyDir); err != nil {
		return fail(err)
	}
	if err := runTool(bin, "license", "issue", "--key", filepath.Join(keyDir, "license.key"),
		"--email", loadEmail, "--org", "Load", "--days", "30", "--out", lic); err != nil {
		return fail(err)
	}
	text, err := os.ReadFile(lic)
	if err != nil {
		return fail(fmt.Errorf("read license: %w", err))
	}
	if m.addr, err = freeLoopbackPort(); err != nil {
		return fail(fmt.Errorf("free port: %w", err))
	}
	logFile, err := os.Create(m.logPath)
	if err != nil {
		return fail(fmt.Errorf("server log: %w", err))
	}
	m.cmd = exec.Command(bin, append([]string{"serve",
		"--addr", m.addr,
		"--data-dir", filepath.Join(dir, "data"),
		"--insecure-http",
		"--license-public-key", filepath.Join(keyDir, "license.pub"),
		"--rate-limit", "0",
		"--log-level", "warn"}, extra...)...)
	m.cmd.Stdout = logFile
	m.cmd.Stderr = logFile
	m.cmd.SysProcAttr = childProcAttr()
	if err := m.cmd.Start(); err != nil {
		_ = logFile.Close()
		return fail(fmt.Errorf("start %s serve: %w", bin, err))
	}
	go func() {
		m.waitErr = m.cmd.Wait()
		_ = logFile.Close()
		close(m.exited)
	}()
	liveServers.add(m)
	return m, string(text), nil
}

// liveServers are the managed servers running now, for the signal handler.
var liveServers = &serverSet{set: map[*managedServer]bool{}}

// serverSet is a set of managed servers safe for concurrent use.
type serverSet struct {
	mu  sync.Mutex
	set map[*managedServer]bool
}

func (s *serverSet) add(m *managedServer) {
	s.mu.Lock()
	s.set[m] = true
	s.mu.Unlock()
}

func (s *serverSet) remove(m *managedServer) {
	s.mu.Lock()
	delete(s.set, m)
	s.mu.Unlock()
}

// closeAll stops every server still running and removes its temp dir.
func (s *serverSet) closeAll() {
	s.mu.Lock()
	list := make([]*managedServer, 0, len(s.set))
	for m := range s.set {
		list = append(list, m)
	}
	s.mu.Unlock()
	for _, m := range list {
		_ = m.Close()
	}
}

// cleanUpOnSignal stops the managed servers and exits when loadgen gets
// SIGINT or SIGTERM, so an interrupted run leaves no server or temp dir
// behind. The returned function uninstalls the handler.
func cleanUpOnSignal(stderr io.Writer) func() {
	sig := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-sig:
			fmt.Fprintf(stderr, "exekra loadtest: %v: stopping the managed server\n", s)
			liveServers.closeAll()
			os.Exit(130)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sig)
		close(done)
	}
}

// alive reports an error once the server process has exited.
func (m *managedServer) alive() error {
	select {
	case <-m.exited:
		return fmt.Errorf("server exited early (%v); log: %s", m.waitErr, m.logTail(5))
	default:
		return nil
	}
}

// logTail returns the last n lines of the server log on one line.
func (m *managedServer) logTail(n int) string {
	data, err := os.ReadFile(m.logPath)
	if err != nil || len(bytes.TrimSpace(data)) == 0 {
		return "(empty)"
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// Close sends SIGTERM, waits up to 20 s (then kills), and removes the temp
// dir. It returns an error when the server did not stop cleanly with exit 0.
func (m *managedServer) Close() error {
	defer liveServers.remove(m)
	defer os.RemoveAll(m.dir)
	var stopErr error
	select {
	case <-m.exited:
	default:
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.exited:
		case <-time.After(20 * time.Second):
			_ = m.cmd.Process.Kill()
			<-m.exited
			stopErr = errors.New("server did not stop within 20s of SIGTERM; killed")
		}
	}
	if stopErr == nil && m.waitErr != nil {
		stopErr = fmt.Errorf("server exit: %v; log: %s", m.waitErr, m.logTail(3))
	}
	return stopErr
}
