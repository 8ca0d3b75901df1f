package actors

import "time"

// StopWithin is Stop with a bound: it poisons the orchestrator and waits
// at most d for the tree to stop (every actor flushes in Stopping). It
// reports whether the tree stopped; when it did not (an actor stuck in a
// slow write, say), the system is stopped anyway (Ask answers ErrStopped)
// and the caller goes on closing: a write that was acknowledged is already
// durable (docs/decisions.md, "Shutdown deadline").
func (s *System) StopWithin(d time.Duration) bool {
	if !s.stopped.CompareAndSwap(false, true) {
		return true
	}
	done := make(chan struct{})
	go func() {
		_ = s.actors.Root.PoisonFuture(s.root).Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		s.actors.Shutdown()
		return true
	case <-t.C:
		s.actors.Shutdown()
		return false
	}
}
