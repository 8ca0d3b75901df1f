package service

import (
	"testing"
	"time"

	"golang.org/x/sys/windows/svc"
)

// These run only on Windows (CI vets them with GOOS=windows go vet).

func TestSCMRequestsMapToTheMachine(t *testing.T) {
	for in, want := range map[svc.Cmd]Cmd{
		svc.Interrogate: CmdInterrogate, svc.Stop: CmdStop, svc.Shutdown: CmdShutdown,
		svc.PreShutdown: CmdShutdown, svc.Pause: CmdPause, svc.Continue: CmdContinue, svc.ParamChange: CmdOther,
	} {
		if got := fromSCM(in); got != want {
			t.Errorf("fromSCM(%d) = %s, want %s", in, got, want)
		}
	}
}

func TestMachineStatusMapsToTheSCM(t *testing.T) {
	got := toSCM(Status{State: Running, AcceptsStop: true})
	if got.State != svc.Running || got.Accepts != svc.AcceptStop|svc.AcceptShutdown|svc.AcceptPreShutdown {
		t.Errorf("running: %+v", got)
	}
	got = toSCM(Status{State: StopPending, CheckPoint: 3, WaitHint: 10 * time.Second})
	if got.State != svc.StopPending || got.Accepts != 0 || got.CheckPoint != 3 || got.WaitHint != 10000 {
		t.Errorf("stop pending: %+v", got)
	}
}

func TestSCMSessionLeavesStoppedToTheExitCode(t *testing.T) {
	status := make(chan svc.Status, 2)
	s := &scmSession{status: status}
	s.Report(Status{State: Running, AcceptsStop: true})
	s.Report(Status{State: Stopped, ExitCode: 1})
	if len(status) != 1 {
		t.Fatalf("%d reports reached the SCM, want 1 (Stopped travels as Execute's exit code)", len(status))
	}
}

func TestStateWords(t *testing.T) {
	for st, want := range map[svc.State]string{svc.Stopped: "stopped", svc.StopPending: "stopping", svc.StartPending: "starting"} {
		if got := scmStateWord(svc.Status{State: st}); got != want {
			t.Errorf("%d: %q, want %q", st, got, want)
		}
	}
	if got := scmStateWord(svc.Status{State: svc.Stopped, ServiceSpecificExitCode: 1}); got != "stopped (exit code 1)" {
		t.Errorf("failed: %q", got)
	}
}
