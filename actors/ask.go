package actors

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Reply slots: the return addresses of Ask.
//
// protoactor's RequestFuture registers a new process per request (a name
// generated and hashed into the process registry, a mutex and condition
// variable, a timer started and stopped, then the registration removed):
// about half a kilobyte and a few microseconds on every HTTP request that
// asks an actor. A reply slot is the same kind of process — a return address
// actors answer with ctx.Respond — but registered once and reused: Ask takes
// a free slot, sends the command with the slot as its sender and waits on
// the slot's channel. A slot whose wait timed out is never reused (its late
// answer could reach the next caller): it is unregistered and dropped.
// Measured on the create path: see docs/performance.md.

// replySlot is one reusable return address.
type replySlot struct {
	pid   *actor.PID
	ch    chan any
	timer *time.Timer
}

// SendUserMessage implements actor.Process: the answer.
func (r *replySlot) SendUserMessage(_ *actor.PID, message any) {
	_, msg, _ := actor.UnwrapEnvelope(message)
	select {
	case r.ch <- msg:
	default: // a second answer to one request: nobody waits for it
	}
}

// SendSystemMessage implements actor.Process (as protoactor's futures do,
// a system message sent to the address is the answer).
func (r *replySlot) SendSystemMessage(pid *actor.PID, message any) { r.SendUserMessage(pid, message) }

// Stop implements actor.Process; slots are stopped by unregistering them.
func (r *replySlot) Stop(*actor.PID) {}

// replySlots is the free list of one actor system's slots.
type replySlots struct {
	mu   sync.Mutex
	free []*replySlot
	next uint64
}

func (s *System) takeSlot() *replySlot {
	rs := &s.slots
	rs.mu.Lock()
	if n := len(rs.free); n > 0 {
		r := rs.free[n-1]
		rs.free = rs.free[:n-1]
		rs.mu.Unlock()
		return r
	}
	rs.next++
	name := "ask$" + strconv.FormatUint(rs.next, 36)
	rs.mu.Unlock()
	r := &replySlot{ch: make(chan any, 1), timer: time.NewTimer(time.Hour)}
	r.timer.Stop()
	r.pid, _ = s.actors.ProcessRegistry.Add(r, name) // names are unique per system
	return r
}

func (s *System) returnSlot(r *replySlot) {
	rs := &s.slots
	rs.mu.Lock()
	rs.free = append(rs.free, r)
	rs.mu.Unlock()
}

// errAskTimeout marks an Ask whose answer did not come in time.
var errAskTimeout = errors.New("timed out")

// ask sends cmd to pid with a reply slot as its sender and waits for the
// answer up to timeout.
func (s *System) ask(pid *actor.PID, cmd any, timeout time.Duration) (any, error) {
	r := s.takeSlot()
	s.actors.Root.RequestWithCustomSender(pid, cmd, r.pid)
	r.timer.Reset(timeout)
	select {
	case res := <-r.ch:
		r.timer.Stop() // Go ≥ 1.23: no stale tick is left behind
		s.returnSlot(r)
		return res, nil
	case <-r.timer.C:
		s.actors.ProcessRegistry.Remove(r.pid)
		return nil, fmt.Errorf("actors: %T %w", cmd, errAskTimeout)
	}
}
