package service

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeSCM is a service manager: the test sends requests and reads the
// reports in order.
type fakeSCM struct {
	requests chan Cmd
	reports  chan Status
}

func newFakeSCM() *fakeSCM {
	return &fakeSCM{requests: make(chan Cmd), reports: make(chan Status, 64)}
}

func (f *fakeSCM) Requests() <-chan Cmd { return f.requests }
func (f *fakeSCM) Report(s Status)      { f.reports <- s }

// next returns the next report, failing the test after a deadline.
func (f *fakeSCM) next(t *testing.T) Status {
	t.Helper()
	select {
	case s := <-f.reports:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no status report")
		return Status{}
	}
}

// send delivers a request, failing the test if the machine does not take it.
func (f *fakeSCM) send(t *testing.T, c Cmd) {
	t.Helper()
	select {
	case f.requests <- c:
	case <-time.After(10 * time.Second):
		t.Fatalf("request %s not taken", c)
	}
}

// program is a fake serve: it records when its context ends and finishes
// its graceful stop when the test says so.
type program struct {
	started  chan struct{}
	canceled chan struct{}
	finish   chan int
}

func newProgram() *program {
	return &program{started: make(chan struct{}), canceled: make(chan struct{}), finish: make(chan int, 1)}
}

func (p *program) run(ctx context.Context) int {
	close(p.started)
	select {
	case <-ctx.Done():
		close(p.canceled)
		return <-p.finish
	case code := <-p.finish:
		return code
	}
}

type logBook struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBook) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func startMachine(t *testing.T) (*fakeSCM, *program, chan time.Time, chan int, *logBook) {
	t.Helper()
	scm, prog, tick, book := newFakeSCM(), newProgram(), make(chan time.Time), &logBook{}
	m := &Machine{Session: scm, Run: prog.run, Logf: book.logf, Progress: tick}
	exit := make(chan int, 1)
	go func() { exit <- m.Serve() }()
	if s := scm.next(t); s.State != StartPending || s.AcceptsStop {
		t.Fatalf("first report %+v, want StartPending accepting nothing", s)
	}
	if s := scm.next(t); s.State != Running || !s.AcceptsStop {
		t.Fatalf("second report %+v, want Running accepting stop", s)
	}
	<-prog.started
	return scm, prog, tick, exit, book
}

func TestMachineStopAndShutdownTakeTheGracefulPath(t *testing.T) {
	for _, c := range []Cmd{CmdStop, CmdShutdown} {
		t.Run(c.String(), func(t *testing.T) {
			scm, prog, tick, exit, _ := startMachine(t)
			scm.send(t, c)
			if s := scm.next(t); s.State != StopPending || s.AcceptsStop || s.CheckPoint != 1 || s.WaitHint <= 0 {
				t.Fatalf("after %s: %+v, want StopPending with checkpoint 1 and a wait hint", c, s)
			}
			<-prog.canceled // the program's context ended: its SIGTERM path
			// While the program drains, progress ticks raise the checkpoint
			// and interrogations see StopPending; a second stop is no news.
			tick <- time.Now()
			if s := scm.next(t); s.State != StopPending || s.CheckPoint != 2 {
				t.Fatalf("progress: %+v, want StopPending checkpoint 2", s)
			}
			scm.send(t, CmdInterrogate)
			if s := scm.next(t); s.State != StopPending || s.CheckPoint != 2 {
				t.Fatalf("interrogate while stopping: %+v", s)
			}
			scm.send(t, CmdStop)
			if s := scm.next(t); s.State != StopPending {
				t.Fatalf("second stop: %+v", s)
			}
			prog.finish <- 1 // the graceful stop overran its deadline, say
			if s := scm.next(t); s.State != Stopped || s.ExitCode != 0 {
				t.Fatalf("last report %+v, want Stopped with exit code 0: a requested stop is no failure", s)
			}
			if code := <-exit; code != 0 {
				t.Fatalf("Serve returned %d", code)
			}
		})
	}
}

func TestMachineRefusesPauseAndKeepsRunning(t *testing.T) {
	scm, prog, _, exit, book := startMachine(t)
	for _, c := range []Cmd{CmdPause, CmdContinue, CmdOther, CmdInterrogate} {
		scm.send(t, c)
		if s := scm.next(t); s.State != Running || !s.AcceptsStop {
			t.Fatalf("after %s: %+v, want Running", c, s)
		}
	}
	select {
	case <-prog.canceled:
		t.Fatal("a refused request stopped the program")
	default:
	}
	book.mu.Lock()
	refused := 0
	for _, l := range book.lines {
		if len(l) > 0 && (l == "pause refused: this service can only be stopped" || l == "continue refused: this service can only be stopped") {
			refused++
		}
	}
	book.mu.Unlock()
	if refused != 2 {
		t.Errorf("log %q: want pause and continue logged as refused", book.lines)
	}
	scm.send(t, CmdStop)
	scm.next(t)
	prog.finish <- 0
	if s := scm.next(t); s.State != Stopped {
		t.Fatalf("%+v", s)
	}
	<-exit
}

func TestMachineProgramFailureIsReportedForRecovery(t *testing.T) {
	scm, prog, _, exit, book := startMachine(t)
	prog.finish <- 1 // serve failed by itself (port taken, say)
	if s := scm.next(t); s.State != Stopped || s.ExitCode != 1 {
		t.Fatalf("%+v, want Stopped with exit code 1 (recovery restarts it)", s)
	}
	if code := <-exit; code != 1 {
		t.Fatalf("Serve returned %d", code)
	}
	book.mu.Lock()
	defer book.mu.Unlock()
	if last := book.lines[len(book.lines)-1]; last != "the program ended by itself with exit code 1" {
		t.Errorf("last log line %q", last)
	}
}

func TestMachineOutlivesAManagerThatGoesAway(t *testing.T) {
	scm, prog, _, exit, _ := startMachine(t)
	close(scm.requests)
	prog.finish <- 0
	if s := scm.next(t); s.State != Stopped {
		t.Fatalf("%+v", s)
	}
	<-exit
}
