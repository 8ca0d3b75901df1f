package actors

import "sync/atomic"

// Gauges are live figures for /metrics and the fast paths. Each gauge is
// written only by the actor that owns the state it measures (noted per
// field); anyone may read them.
type Gauges struct {
	// QueueDepth is the number of QUEUED executions by priority rank
	// (0 HIGH, 1 NORMAL, 2 LOW). Owner: the dispatcher, its one writer;
	// whoever queues an execution has its caller answered by the dispatcher
	// after the entry is counted, so a poll that follows a 2xx never reads
	// a depth without it (the idle-poll fast path reads this gauge).
	QueueDepth [3]atomic.Int64
	// WaitingClaims is the number of long polls parked in the dispatcher.
	// Owner: dispatcher.
	WaitingClaims atomic.Int64
	// RunnersOnline, RunnersBusy and RunnersOffline count runners by status.
	// Owner: the runners supervisor and runner actors.
	RunnersOnline  atomic.Int64
	RunnersBusy    atomic.Int64
	RunnersOffline atomic.Int64
	// ActiveExecutions is the number of live execution actors (executions
	// in flight, plus any activated for a moment by a command). Owner: the
	// executions registry.
	ActiveExecutions atomic.Int64
	// EventStreams is the number of open live event streams, and
	// EventStreamsDropped counts those ended for a full buffer. Owner:
	// events.
	EventStreams        atomic.Int64
	EventStreamsDropped atomic.Uint64
}

// Gauges exposes the live figures.
func (s *System) Gauges() *Gauges { return &s.gauges }
