package actors

import "sync/atomic"

// Gauges are live figures for /metrics and the fast paths. Each gauge is
// written only by the actor that owns the state it measures (noted per
// field); anyone may read them.
type Gauges struct {
	// QueueDepth is the number of QUEUED executions by priority rank
	// (0 HIGH, 1 NORMAL, 2 LOW). Owner: dispatcher; the execution actors
	// that announce a QUEUED execution add it ahead of the announcement
	// (counted), and the dispatcher corrects that on arrival (see
	// dispatcherActor.enqueue).
	QueueDepth [3]atomic.Int64
	// WaitingClaims is the number of long polls parked in the dispatcher.
	// Owner: dispatcher.
	WaitingClaims atomic.Int64
	// RunnersOnline, RunnersBusy and RunnersOffline count runners by status.
	// Owner: the runners supervisor and runner actors.
	RunnersOnline  atomic.Int64
	RunnersBusy    atomic.Int64
	RunnersOffline atomic.Int64
	// ActiveExecutions is the number of live execution actors. Owner:
	// executions supervisor.
	ActiveExecutions atomic.Int64
	// EventStreams is the number of open live event streams, and
	// EventStreamsDropped counts those ended for a full buffer. Owner:
	// events.
	EventStreams        atomic.Int64
	EventStreamsDropped atomic.Uint64
}

// Gauges exposes the live figures.
func (s *System) Gauges() *Gauges { return &s.gauges }
