package service

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
)

// eventID is the Event Log id of every entry (the source is registered
// with EventCreate.exe's message file, which shows the text as written).
const eventID = 1

// host runs the program as a Windows service when the service control
// manager started this process, in the console otherwise. As a service,
// the program's log goes to logFile and to the Event Log (source name);
// the SCM's Stop and Shutdown cancel its context, the path Ctrl+C and
// SIGTERM take in a console.
func host(name, logFile string, run func(ctx context.Context, stdout, stderr io.Writer) int, stdout, stderr io.Writer) int {
	isService, err := svc.IsWindowsService()
	if err != nil || !isService {
		return console(logFile, run, stdout, stderr)
	}
	out := io.Discard
	var writers []io.Writer
	if logFile != "" {
		if f, err := openLogFile(logFile, maxLogFile); err == nil {
			defer f.Close()
			writers = append(writers, f)
		}
	}
	if elog, err := eventlog.Open(name); err == nil {
		defer elog.Close()
		writers = append(writers, &lineSplitter{emit: func(line string) {
			switch lineLevel(line) {
			case LevelError:
				_ = elog.Error(eventID, line)
			case LevelWarning:
				_ = elog.Warning(eventID, line)
			default:
				_ = elog.Info(eventID, line)
			}
		}})
	}
	if len(writers) > 0 {
		out = io.MultiWriter(writers...)
	}
	log := slog.New(slog.NewTextHandler(out, nil)).With("service", name)
	h := &scmHandler{machine: Machine{
		Run:  func(ctx context.Context) int { return run(ctx, out, out) },
		Logf: func(format string, args ...any) { log.Info(fmt.Sprintf(format, args...)) },
	}}
	if err := svc.Run(name, h); err != nil {
		log.Error("the service control manager did not take the service", "err", err)
		return 1
	}
	return h.code
}

// scmHandler is svc.Handler: it runs the Machine on a Session made of
// the SCM's channels.
type scmHandler struct {
	machine Machine
	code    int
}

// Execute is called by svc.Run on the service's own goroutine.
func (h *scmHandler) Execute(_ []string, r <-chan svc.ChangeRequest, s chan<- svc.Status) (bool, uint32) {
	sess := &scmSession{requests: make(chan Cmd), status: s}
	go func() {
		for req := range r {
			sess.requests <- fromSCM(req.Cmd)
		}
	}()
	h.machine.Session = sess
	h.code = h.machine.Serve()
	// A service-specific exit code: non-zero counts as a failure, which
	// the recovery actions set at install time answer with a restart.
	return true, uint32(h.code)
}

// scmSession is the Session of a real Windows service.
type scmSession struct {
	requests chan Cmd
	status   chan<- svc.Status
}

func (s *scmSession) Requests() <-chan Cmd { return s.requests }

// Report passes a status on, except Stopped: svc reports that itself
// with the exit code Execute returns, and an earlier Stopped without it
// would read as success and skip the recovery actions.
func (s *scmSession) Report(st Status) {
	if st.State == Stopped {
		return
	}
	s.status <- toSCM(st)
}

// fromSCM maps the SCM's request to the machine's.
func fromSCM(c svc.Cmd) Cmd {
	switch c {
	case svc.Interrogate:
		return CmdInterrogate
	case svc.Stop:
		return CmdStop
	case svc.Shutdown, svc.PreShutdown:
		return CmdShutdown
	case svc.Pause:
		return CmdPause
	case svc.Continue:
		return CmdContinue
	}
	return CmdOther
}

// toSCM maps the machine's status to the SCM's.
func toSCM(st Status) svc.Status {
	out := svc.Status{CheckPoint: st.CheckPoint, WaitHint: uint32(st.WaitHint / time.Millisecond)}
	switch st.State {
	case StartPending:
		out.State = svc.StartPending
	case Running:
		out.State = svc.Running
	case StopPending:
		out.State = svc.StopPending
	default:
		out.State = svc.Stopped
	}
	if st.AcceptsStop {
		// Pre-shutdown comes before the system's shutdown and waits
		// longer for the service than shutdown itself.
		out.Accepts = svc.AcceptStop | svc.AcceptShutdown | svc.AcceptPreShutdown
	}
	return out
}
