package actors

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/exekra/orchestrator/messages"
	"github.com/exekra/orchestrator/storage"
)

// recorder is an actor that keeps what it receives and never answers.
type recorder struct{ got chan any }

func (r *recorder) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(actor.SystemMessage); ok {
		return
	}
	switch ctx.Message().(type) {
	case *actor.Started, *actor.Stopping, *actor.Stopped:
		return
	}
	r.got <- ctx.Message()
}

// An assignment whose answer never comes is given up when its timer (of
// the system clock) fires: the claim is answered no work, the assignment
// is taken back, and a late answer is not delivered to anyone.
func TestAssignmentTimesOutOnTheSystemClock(t *testing.T) {
	st, err := storage.Open(t.TempDir(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{now: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	as := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	rec := &recorder{got: make(chan any, 16)}
	execs := as.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return rec }))
	sys := &System{cfg: Config{Now: clock.Now, AfterFunc: clock.AfterFunc, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		QueueTimeout: time.Hour, StaleCheckInterval: time.Minute}, store: st, actors: as,
		pids: map[string]*actor.PID{childExecutions: execs}}
	disp := as.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &dispatcherActor{sys: sys} }))
	t.Cleanup(func() {
		_ = as.Root.PoisonFuture(disp).Wait()
		as.Shutdown()
		_ = st.Close()
	})
	as.Root.Send(disp, &execEnqueued{entry: queueEntry{ID: "x", Priority: messages.PriorityNormal, Enqueued: 1}})
	claim := as.Root.RequestFuture(disp, &messages.ClaimWork{RunnerID: "r1"}, 10*time.Second)
	next := func(what string) any {
		t.Helper()
		select {
		case m := <-rec.got:
			return m
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s", what)
		}
		return nil
	}
	a, ok := next("assignment").(*assignExecution)
	if !ok || a.ID != "x" || a.RunnerID != "r1" {
		t.Fatalf("assignment %+v", a)
	}
	if n := sys.gauges.QueueDepth[1].Load(); n != 0 {
		t.Fatalf("queue depth %d while assigning", n)
	}
	clock.Advance(assignTimeout - time.Millisecond)
	select {
	case m := <-rec.got:
		t.Fatalf("before its timeout: %T", m)
	default:
	}
	clock.Advance(time.Millisecond)
	res, err := claim.Result()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res.(*messages.NoWork); !ok {
		t.Fatalf("claim answered %T, want no work", res)
	}
	if u, ok := next("unassign").(*unassignExecution); !ok || u.ID != "x" || u.RunnerID != "r1" {
		t.Fatalf("unassign %+v", u)
	}
	// The late answer reaches nobody: a second claim is not handed it.
	runner := "r1"
	as.Root.Send(disp, &assignResult{ID: "x", Seq: a.Seq, Execution: &messages.Execution{ID: "x", RunnerID: &runner}})
	res, err = as.Root.RequestFuture(disp, &messages.ClaimWork{RunnerID: "r2"}, 5*time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res.(*messages.NoWork); !ok {
		t.Fatalf("second claim answered %T", res)
	}
}
