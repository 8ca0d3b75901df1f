package actors

import (
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// outboxBells wake the delivery actors when events are committed, so a
// new event is sent at once and an idle subscription runs no timer. Each
// delivery actor has a bell whose want flag it raises before it finds the
// event log read to its end; storage's writer (System.eventSink) rings
// every raised bell once after a commit that stored events, so an actor
// hears at most one wake per read of the log whatever the rate of commits.
type outboxBells struct {
	bells sync.Map // subscription id → *outboxBell
}

// outboxBell is one delivery actor's.
type outboxBell struct {
	pid  *actor.PID
	want atomic.Bool
}

func (b *outboxBells) add(id string, pid *actor.PID) *outboxBell {
	bell := &outboxBell{pid: pid}
	b.bells.Store(id, bell)
	return bell
}

// remove forgets id's bell when it is still bell (a restarted actor may
// have replaced it).
func (b *outboxBells) remove(id string, bell *outboxBell) {
	if bell != nil {
		b.bells.CompareAndDelete(id, bell)
	}
}

// ring wakes every delivery actor waiting for events.
func (b *outboxBells) ring(root *actor.RootContext) {
	b.bells.Range(func(_, v any) bool {
		if bell := v.(*outboxBell); bell.want.CompareAndSwap(true, false) {
			root.Send(bell.pid, wakeDelivery)
		}
		return true
	})
}
