package actors

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// echo answers its message; a channel makes it wait until the channel is
// closed, then answer "late".
type echo struct{}

func (echo) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case chan struct{}:
		<-m
		ctx.Respond("late")
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
	if n := len(*s.slots.all.Load()); n != 1 || len(s.slots.free) != 1 {
		t.Fatalf("sequential asks should share one slot: made %d, free %d", n, len(s.slots.free))
	}
	// A slow answer times out; the slot is reused, and the late answer
	// (an older generation) is dropped instead of reaching the next caller.
	release := make(chan struct{})
	if _, err := s.ask(pid, release, 20*time.Millisecond); err == nil {
		t.Fatal("want a timeout")
	}
	// The late answer is sent before the actor reads its next message, so
	// it reaches the slot while the next ask (its new use) waits.
	close(release)
	res, err := s.ask(pid, "y", time.Second)
	if err != nil || res != "re:y" {
		t.Fatalf("after a timeout: %v %v", res, err)
	}
	res, err = s.ask(pid, "z", time.Second)
	if err != nil || res != "re:z" {
		t.Fatalf("a late answer leaked into the next ask: %v %v", res, err)
	}
	if n := len(*s.slots.all.Load()); n != 1 {
		t.Fatalf("the slot was not reused after a timeout: %d slots", n)
	}
	// A repeated answer to an old use is dropped too.
	old := &actor.PID{Address: askAddress, Id: "0.1"}
	proc, ok := s.slots.resolve(old)
	if !ok {
		t.Fatal("the resolver does not know slot 0")
	}
	proc.SendUserMessage(old, "stale")
	res, err = s.ask(pid, "w", time.Second)
	if err != nil || res != "re:w" {
		t.Fatalf("a stale answer leaked: %v %v", res, err)
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

// TestReplySlotGenerations: while a new use of a slot waits, an answer
// addressed to an older use is dropped and the new one gets its own.
func TestReplySlotGenerations(t *testing.T) {
	r := &replySlot{index: "0", ch: make(chan any, 1)}
	first := r.begin()
	r.abandon()
	second := r.begin()
	r.SendUserMessage(first, "stale")
	r.SendUserMessage(second, "fresh")
	r.SendUserMessage(second, "again") // a repeated answer: dropped, no block
	if got := <-r.ch; got != "fresh" {
		t.Fatalf("got %v", got)
	}
	select {
	case extra := <-r.ch:
		t.Fatalf("a second delivery: %v", extra)
	default:
	}
	if _, ok := slotGeneration(&actor.PID{Id: "nodot"}); ok {
		t.Fatal("a malformed address parsed")
	}
}
