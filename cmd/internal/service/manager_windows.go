package service

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/exekra/orchestrator/cmd/internal/privfile"
)

// scm installs and controls Windows services through the service control
// manager (golang.org/x/sys/windows/svc/mgr).
type scm struct{}

// newManager is the Windows service control manager.
func newManager() (Manager, error) { return scm{}, nil }

// recoveryActions restart a failed service after 5 s, 30 s, then every
// minute; the failure count resets after a day without failure.
var recoveryActions = []mgr.RecoveryAction{
	{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
	{Type: mgr.ServiceRestart, Delay: 30 * time.Second},
	{Type: mgr.ServiceRestart, Delay: time.Minute},
}

const recoveryResetSeconds = 24 * 60 * 60

func connect() (*mgr.Mgr, error) {
	m, err := mgr.Connect()
	if err != nil {
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
			return nil, errors.New("the service control manager refused access: run this from an elevated prompt (Run as administrator)")
		}
		return nil, fmt.Errorf("connect to the service control manager: %w", err)
	}
	return m, nil
}

// Install registers the service (automatic start, delayed after boot),
// its recovery actions, its Event Log source, its private data dir and
// environment file.
func (scm) Install(s Spec) error {
	m, err := connect()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	if old, err := m.OpenService(s.Name); err == nil {
		old.Close()
		return fmt.Errorf("service %s already exists: uninstall it first, or choose another --name", s.Name)
	}
	if err := os.MkdirAll(s.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	service, err := m.CreateService(s.Name, s.Exe, mgr.Config{
		DisplayName:      s.DisplayName,
		Description:      s.Description,
		StartType:        mgr.StartAutomatic,
		DelayedAutoStart: true,
		ErrorControl:     mgr.ErrorNormal,
		ServiceStartName: s.User,
		Password:         s.Password,
	}, hostArgs(s)...)
	if err != nil {
		return fmt.Errorf("create service %s: %w", s.Name, err)
	}
	defer service.Close()
	undo := func(cause error) error {
		_ = service.Delete()
		return cause
	}
	if err := service.SetRecoveryActions(recoveryActions, recoveryResetSeconds); err != nil {
		return undo(fmt.Errorf("recovery actions: %w", err))
	}
	// A non-zero exit code (serve failing to start, say) is a failure too,
	// not only a crash.
	if err := service.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		return undo(fmt.Errorf("recovery actions: %w", err))
	}
	if err := eventlog.InstallAsEventCreate(s.Name, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil &&
		!strings.Contains(err.Error(), "exists") {
		return undo(fmt.Errorf("event log source: %w", err))
	}
	// The data dir: SYSTEM, Administrators and the service's account
	// only; what it contains inherits that.
	account := s.User
	if account == "" {
		account = `NT AUTHORITY\SYSTEM` // LocalSystem, the default
	}
	accounts := []string{account}
	if err := privfile.Restrict(s.DataDir, accounts...); err != nil {
		return undo(err)
	}
	if len(s.Env) > 0 {
		text, err := formatEnv(s.Env)
		if err != nil {
			return undo(err)
		}
		if err := os.MkdirAll(filepath.Dir(s.EnvFile), 0o700); err != nil {
			return undo(err)
		}
		if err := privfile.WriteFile(s.EnvFile, []byte(text)); err != nil {
			return undo(fmt.Errorf("environment file: %w", err))
		}
		if err := privfile.Restrict(s.EnvFile, accounts...); err != nil {
			return undo(err)
		}
	}
	return nil
}

// Uninstall stops the service when it runs, removes it and its Event Log
// source; the data dir stays.
func (w scm) Uninstall(name string) error {
	m, err := connect()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	service, err := m.OpenService(name)
	if err != nil {
		return fmt.Errorf("service %s is not installed", name)
	}
	defer service.Close()
	if st, err := service.Query(); err == nil && st.State != svc.Stopped {
		if err := stopAndWait(service); err != nil {
			return err
		}
	}
	if err := service.Delete(); err != nil {
		return fmt.Errorf("delete service %s: %w", name, err)
	}
	_ = eventlog.Remove(name)
	return nil
}

// Start starts the service and waits until it runs.
func (scm) Start(name string) error {
	m, err := connect()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	service, err := m.OpenService(name)
	if err != nil {
		return fmt.Errorf("service %s is not installed", name)
	}
	defer service.Close()
	if err := service.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	st, err := waitFor(service, svc.Running, 30*time.Second)
	if err != nil {
		return err
	}
	if st.State != svc.Running {
		return fmt.Errorf("%s did not start (exit code %d): see its log and the Event Log", name, st.ServiceSpecificExitCode)
	}
	return nil
}

// Stop asks the service to stop and waits until it has (serve's graceful
// stop ends within 15 s).
func (scm) Stop(name string) error {
	m, err := connect()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	service, err := m.OpenService(name)
	if err != nil {
		return fmt.Errorf("service %s is not installed", name)
	}
	defer service.Close()
	return stopAndWait(service)
}

func stopAndWait(service *mgr.Service) error {
	if _, err := service.Control(svc.Stop); err != nil {
		return fmt.Errorf("stop %s: %w", service.Name, err)
	}
	st, err := waitFor(service, svc.Stopped, 60*time.Second)
	if err != nil {
		return err
	}
	if st.State != svc.Stopped {
		return fmt.Errorf("%s is still stopping after 60 s", service.Name)
	}
	return nil
}

// waitFor polls the service until it reaches want, stops, or timeout ends.
func waitFor(service *mgr.Service, want svc.State, timeout time.Duration) (svc.Status, error) {
	deadline := time.Now().Add(timeout)
	for {
		st, err := service.Query()
		if err != nil {
			return st, fmt.Errorf("query %s: %w", service.Name, err)
		}
		if st.State == want || st.State == svc.Stopped || time.Now().After(deadline) {
			return st, nil
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// Status is the service's state, with its process id while it runs.
func (scm) Status(name string) (string, error) {
	m, err := connect()
	if err != nil {
		return "", err
	}
	defer m.Disconnect()
	service, err := m.OpenService(name)
	if err != nil {
		return "not installed", nil
	}
	defer service.Close()
	st, err := service.Query()
	if err != nil {
		return "", fmt.Errorf("query %s: %w", name, err)
	}
	return scmStateWord(st), nil
}

// scmStateWord renders an SCM status as `service status` prints it.
func scmStateWord(st svc.Status) string {
	switch st.State {
	case svc.Running:
		return fmt.Sprintf("running (pid %d)", st.ProcessId)
	case svc.StartPending:
		return "starting"
	case svc.StopPending:
		return "stopping"
	case svc.Stopped:
		if st.ServiceSpecificExitCode != 0 {
			return fmt.Sprintf("stopped (exit code %d)", st.ServiceSpecificExitCode)
		}
		return "stopped"
	case svc.Paused, svc.PausePending, svc.ContinuePending:
		return "paused"
	}
	return "unknown"
}
