package actors

import (
	"sync"
	"sync/atomic"
	"time"
)

// DeliveryOutcomes are the outcome labels of the delivery attempts, in the
// order of OutboxFigures.Attempts (docs/operations.md, "Metrics"): every
// attempt counts once.
//
//   - delivered: the receiver answered 2xx (test pings and manual retries
//     included);
//   - failed_attempt: a non-2xx answer other than 410, or no answer; the
//     outbox retries it after the backoff (or, for a test ping or a manual
//     retry, the operator may try again);
//   - gave_up: the attempt failed and the delivery was marked FAILED because
//     it had been failing for 24 h (or every attempt for 3 days, which also
//     disables the subscription);
//   - gone: the receiver answered 410 Gone (the subscription is disabled).
var DeliveryOutcomes = [...]string{"delivered", "failed_attempt", "gave_up", "gone"}

const (
	outcomeDelivered = iota
	outcomeFailedAttempt
	outcomeGaveUp
	outcomeGone
)

// OutboxFigures are the delivery actors' figures since start: counters they
// add to and one published view per subscription's outbox. Readers (GET
// /metrics) load them at any time; nothing reads storage.
type OutboxFigures struct {
	// Attempts counts the delivery attempts by DeliveryOutcomes.
	Attempts [len(DeliveryOutcomes)]atomic.Uint64
	views    sync.Map // subscription id → *outboxView
}

// outboxView is what a delivery actor publishes about its outbox.
type outboxView struct {
	cursor  atomic.Uint64
	enabled atomic.Bool
	// oldest is when the event of the oldest unfinished delivery
	// happened (Unix ms); 0 without one.
	oldest atomic.Int64
}

// OutboxFigures exposes the delivery figures.
func (s *System) OutboxFigures() *OutboxFigures { return &s.outboxFigures }

// view is the published view of subscription id, made on first use.
func (f *OutboxFigures) view(id string) *outboxView {
	if v, ok := f.views.Load(id); ok {
		return v.(*outboxView)
	}
	v, _ := f.views.LoadOrStore(id, &outboxView{})
	return v.(*outboxView)
}

func (f *OutboxFigures) drop(id string) { f.views.Delete(id) }

// Backlog reads the outbox depth over the enabled subscriptions: pending is
// the events of the log (last is its last number) after the slowest cursor,
// oldest the age of the oldest unfinished delivery's event (0 when none).
// A subscription that keeps up lags by the deliveries it has in flight.
func (f *OutboxFigures) Backlog(last uint64, now time.Time) (pending uint64, oldest time.Duration) {
	var minCursor uint64
	found := false
	var oldestMs int64
	f.views.Range(func(_, v any) bool {
		ov := v.(*outboxView)
		if !ov.enabled.Load() {
			return true
		}
		c := ov.cursor.Load()
		if !found || c < minCursor {
			minCursor, found = c, true
		}
		if ms := ov.oldest.Load(); ms > 0 && (oldestMs == 0 || ms < oldestMs) {
			oldestMs = ms
		}
		return true
	})
	if found && last > minCursor {
		pending = last - minCursor
	}
	if oldestMs > 0 {
		oldest = max(now.Sub(time.UnixMilli(oldestMs)), 0)
	}
	return pending, oldest
}
