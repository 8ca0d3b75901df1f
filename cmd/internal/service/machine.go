package service

import (
	"context"
	"time"
)

// Cmd is a request from the service manager to a running service.
type Cmd int

// The requests a service may receive. Only Stop and Shutdown are accepted;
// Interrogate is always answered; Pause and Continue are refused (the Hub
// and the runner have no paused state: a runner that should take no work
// is stopped, or its jobs are routed elsewhere with labels).
const (
	CmdInterrogate Cmd = iota + 1
	CmdStop
	CmdShutdown
	CmdPause
	CmdContinue
	CmdOther
)

func (c Cmd) String() string {
	switch c {
	case CmdInterrogate:
		return "interrogate"
	case CmdStop:
		return "stop"
	case CmdShutdown:
		return "shutdown"
	case CmdPause:
		return "pause"
	case CmdContinue:
		return "continue"
	}
	return "other"
}

// State is a service's state as the service manager sees it.
type State int

// The states Serve reports, in the order they happen.
const (
	StartPending State = iota + 1
	Running
	StopPending
	Stopped
)

func (s State) String() string {
	switch s {
	case StartPending:
		return "start pending"
	case Running:
		return "running"
	case StopPending:
		return "stop pending"
	case Stopped:
		return "stopped"
	}
	return "unknown"
}

// Status is one report to the service manager.
type Status struct {
	State State
	// AcceptsStop is true while Stop and Shutdown are accepted (Running).
	AcceptsStop bool
	// CheckPoint grows while a stop is in progress, telling the manager
	// that the service is not hung; WaitHint is how long until the next.
	CheckPoint uint32
	WaitHint   time.Duration
	// ExitCode is the program's exit code (with Stopped): non-zero makes
	// the service manager's recovery actions restart the service.
	ExitCode int
}

// Session is the service manager as a running service sees it: requests
// come in, status reports go out. On Windows it is the service control
// manager (golang.org/x/sys/windows/svc); tests use a fake.
type Session interface {
	Requests() <-chan Cmd
	Report(Status)
}

// stopWaitHint is how long the manager is told to wait between two
// progress reports of a stop.
const stopWaitHint = 10 * time.Second

// Machine runs one program as a service.
type Machine struct {
	Session Session
	// Run is the program (serve or runner); it returns its exit code once
	// ctx ends, after its graceful stop (the path SIGTERM takes in a
	// console).
	Run func(ctx context.Context) int
	// Logf reports the service's own events (start, stop requests,
	// refused requests) beside the program's log.
	Logf func(format string, args ...any)
	// Progress ticks while a stop is in progress, each tick a new
	// checkpoint; nil means every stopWaitHint/2.
	Progress <-chan time.Time
}

// Serve reports StartPending, starts the program, reports Running and
// answers the manager until the program ends: Stop and Shutdown cancel the
// program's context (StopPending with a growing checkpoint until it
// returns), Interrogate repeats the current status, anything else is
// refused and changes nothing. It returns the exit code for the manager,
// which the last report (Stopped) carries too: the program's when it ended
// by itself (non-zero: a failure, restarted by the recovery actions), 0
// when the manager stopped it.
func (m *Machine) Serve() int {
	logf := m.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	m.Session.Report(Status{State: StartPending, WaitHint: stopWaitHint})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- m.Run(ctx) }()
	cur := Status{State: Running, AcceptsStop: true}
	m.Session.Report(cur)
	logf("service started")

	progress := m.Progress
	var ticker *time.Ticker
	defer func() {
		if ticker != nil {
			ticker.Stop()
		}
	}()
	requests := m.Session.Requests()
	for {
		var tick <-chan time.Time
		if cur.State == StopPending {
			tick = progress
		}
		select {
		case code := <-done:
			if cur.State == Running {
				logf("the program ended by itself with exit code %d", code)
			} else {
				// The manager asked for this stop: it is no failure to
				// recover from (a non-zero code would make the recovery
				// actions start the service again), whatever the program's
				// code, which the log keeps.
				logf("service stopped (the program's exit code: %d)", code)
				code = 0
			}
			m.Session.Report(Status{State: Stopped, ExitCode: code})
			return code
		case <-tick:
			cur.CheckPoint++
			m.Session.Report(cur)
		case c, ok := <-requests:
			if !ok {
				requests = nil // the manager went away: wait for the program
				continue
			}
			switch c {
			case CmdInterrogate:
				m.Session.Report(cur)
			case CmdStop, CmdShutdown:
				if cur.State != Running {
					m.Session.Report(cur) // already stopping
					continue
				}
				logf("%s requested by the service manager: stopping gracefully", c)
				cur = Status{State: StopPending, CheckPoint: 1, WaitHint: stopWaitHint}
				m.Session.Report(cur)
				if progress == nil {
					ticker = time.NewTicker(stopWaitHint / 2)
					progress = ticker.C
				}
				cancel()
			default:
				logf("%s refused: this service can only be stopped", c)
				m.Session.Report(cur)
			}
		}
	}
}
