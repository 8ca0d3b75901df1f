package actors

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Reply slots: the return addresses of Ask.
//
// protoactor's RequestFuture registers a new process per request (a name
// generated and hashed into the process registry, a mutex and condition
// variable, a timer started and stopped, then the registration removed):
// about half a kilobyte and a few microseconds on every HTTP request that
// asks an actor. A reply slot is a return address that is reused: Ask takes
// a free slot, sends the command with the slot's address as its sender and
// waits on the slot's channel; actors answer with ctx.Respond as before.
//
// Every use of a slot gets its own generation, written into the address
// (PID{Address: "ask", Id: "<slot>.<generation>"}), and a slot accepts an
// answer only for its current generation, under its lock. So an answer that
// comes late (after a timeout) or twice can never reach a later caller of
// the same slot: it is dropped. Addresses of this form are resolved by a
// resolver registered with the process registry, without a registration
// per request. Measured on the create path: see docs/performance.md.

// askAddress is the PID address of reply slots.
const askAddress = "ask"

// replySlot is one reusable return address.
type replySlot struct {
	index string // the slot's number, base 36, as written in its addresses
	ch    chan any
	timer *time.Timer

	mu      sync.Mutex
	gen     uint64 // the current use
	waiting bool   // an answer for gen is still expected
}

// SendUserMessage implements actor.Process: the answer to the request sent
// from pid, delivered if pid names the slot's current use.
func (r *replySlot) SendUserMessage(pid *actor.PID, message any) {
	_, msg, _ := actor.UnwrapEnvelope(message)
	gen, ok := slotGeneration(pid)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !ok || gen != r.gen || !r.waiting {
		return // late or repeated: nobody waits for it
	}
	r.waiting = false
	r.ch <- msg // buffered (1) and empty: the only delivery of this use
}

// SendSystemMessage implements actor.Process (as protoactor's futures do,
// a system message sent to the address is the answer).
func (r *replySlot) SendSystemMessage(pid *actor.PID, message any) { r.SendUserMessage(pid, message) }

// Stop implements actor.Process; slots live as long as their system.
func (r *replySlot) Stop(*actor.PID) {}

// begin starts a use of the slot and returns its address.
func (r *replySlot) begin() *actor.PID {
	r.mu.Lock()
	r.gen++
	r.waiting = true
	gen := r.gen
	r.mu.Unlock()
	return &actor.PID{Address: askAddress, Id: r.index + "." + strconv.FormatUint(gen, 36)}
}

// abandon ends a use whose answer did not come: a late one is dropped.
func (r *replySlot) abandon() {
	r.mu.Lock()
	r.waiting = false
	r.mu.Unlock()
}

// slotGeneration reads the generation out of a slot address.
func slotGeneration(pid *actor.PID) (uint64, bool) {
	_, g, ok := strings.Cut(pid.Id, ".")
	if !ok {
		return 0, false
	}
	gen, err := strconv.ParseUint(g, 36, 64)
	return gen, err == nil
}

// replySlots are one actor system's slots: every slot ever made (indexed
// by number, read by the resolver without a lock) and the free ones.
type replySlots struct {
	mu   sync.Mutex
	free []*replySlot
	all  atomic.Pointer[[]*replySlot]
	once sync.Once
}

// resolve finds the slot an "ask" address names.
func (rs *replySlots) resolve(pid *actor.PID) (actor.Process, bool) {
	if pid.Address != askAddress {
		return nil, false
	}
	idx, _, ok := strings.Cut(pid.Id, ".")
	if !ok {
		return nil, false
	}
	n, err := strconv.ParseUint(idx, 36, 32)
	all := rs.all.Load()
	if err != nil || all == nil || n >= uint64(len(*all)) {
		return nil, false
	}
	return (*all)[n], true
}

func (s *System) takeSlot() *replySlot {
	rs := &s.slots
	rs.once.Do(func() { s.actors.ProcessRegistry.RegisterAddressResolver(rs.resolve) })
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if n := len(rs.free); n > 0 {
		r := rs.free[n-1]
		rs.free = rs.free[:n-1]
		return r
	}
	var all []*replySlot
	if p := rs.all.Load(); p != nil {
		all = *p
	}
	r := &replySlot{index: strconv.FormatUint(uint64(len(all)), 36), ch: make(chan any, 1), timer: time.NewTimer(time.Hour)}
	r.timer.Stop()
	next := append(all[:len(all):len(all)], r) // a new array: readers keep theirs
	rs.all.Store(&next)
	return r
}

func (s *System) returnSlot(r *replySlot) {
	rs := &s.slots
	rs.mu.Lock()
	rs.free = append(rs.free, r)
	rs.mu.Unlock()
}

// ask sends cmd to pid with a reply slot as its sender and waits for the
// answer up to timeout.
func (s *System) ask(pid *actor.PID, cmd any, timeout time.Duration) (any, error) {
	r := s.takeSlot()
	defer s.returnSlot(r)
	s.actors.Root.RequestWithCustomSender(pid, cmd, r.begin())
	r.timer.Reset(timeout)
	select {
	case res := <-r.ch:
		r.timer.Stop() // Go ≥ 1.23: no stale tick is left behind
		return res, nil
	case <-r.timer.C:
		r.abandon()
		// An answer may have been delivered between the tick and abandon.
		select {
		case res := <-r.ch:
			return res, nil
		default:
		}
		return nil, fmt.Errorf("actors: %T timed out", cmd)
	}
}
