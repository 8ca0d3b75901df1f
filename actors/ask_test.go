package actors

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// echo answers its message; a time.Duration makes it wait that long first.
type echo struct{}

func (echo) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case time.Duration:
		time.Sleep(m)
		ctx.Respond(m)
	case string:
		ctx.Respond("re:" + m)
	}
}

func TestAskReusesSlotsAndDropsTimedOutOnes(t *testing.T) {
	s := &System{actors: actor.NewActorSystem()}
	pid := s.actors.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return echo{} }))
	for i := 0; i < 3; i++ {
		res, err := s.ask(pid, "x", time.Second)
		if err != nil || res != "re:x" {
			t.Fatalf("ask %d: %v %v", i, res, err)
		}
	}
	if s.slots.next != 1 || len(s.slots.free) != 1 {
		t.Fatalf("sequential asks should share one slot: made %d, free %d", s.slots.next, len(s.slots.free))
	}
	// A slow answer times out; its slot is not reused, so the late answer
	// cannot reach the next caller.
	if _, err := s.ask(pid, 200*time.Millisecond, 20*time.Millisecond); err == nil {
		t.Fatal("want a timeout")
	}
	res, err := s.ask(pid, "y", time.Second)
	if err != nil || res != "re:y" {
		t.Fatalf("after a timeout: %v %v", res, err)
	}
	time.Sleep(300 * time.Millisecond) // the late answer arrives meanwhile
	res, err = s.ask(pid, "z", time.Second)
	if err != nil || res != "re:z" {
		t.Fatalf("a late answer leaked into the next ask: %v %v", res, err)
	}
	// A stopped actor: the dead-letter answer comes back, not a hang.
	if err := s.actors.Root.StopFuture(pid).Wait(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err = s.ask(pid, "gone", 5*time.Second)
	if _, dead := res.(*actor.DeadLetterResponse); err != nil || !dead || time.Since(start) > 2*time.Second {
		t.Fatalf("ask of a stopped actor: %T %v after %v", res, err, time.Since(start))
	}
}
