package storage

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// RetentionBatch is how many executions one retention transaction removes;
// small batches keep the writer's other work flowing between them.
const RetentionBatch = 200

// RetentionInterval is how often the retention job runs after the first run
// at start (docs/api.md, "Details clients depend on": at start and then hourly).
const RetentionInterval = time.Hour

// Retention is the background job of `serve --retention-days N`: finished
// executions whose completedAt is older than N days are removed, with their
// logs and index entries; analytics aggregates are kept.
type Retention struct {
	store    *Store
	days     int
	now      func() time.Time
	log      *slog.Logger
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	removed  atomic.Uint64
	runs     atomic.Uint64
	failures atomic.Uint64
}

// RetentionStats are the job's cumulative figures since start.
type RetentionStats struct {
	Runs, Failures, Removed uint64
}

// Stats returns the job's figures (zero for a nil job).
func (r *Retention) Stats() RetentionStats {
	if r == nil {
		return RetentionStats{}
	}
	return RetentionStats{Runs: r.runs.Load(), Failures: r.failures.Load(), Removed: r.removed.Load()}
}

// StartRetention runs the retention job at once and then every interval
// (RetentionInterval when 0) until Stop. days must be positive; now is the
// clock the cut-off is computed from.
func StartRetention(s *Store, days int, interval time.Duration, now func() time.Time, log *slog.Logger) *Retention {
	if interval <= 0 {
		interval = RetentionInterval
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	r := &Retention{store: s, days: days, now: now, log: log.With("component", "retention"),
		stop: make(chan struct{}), done: make(chan struct{})}
	go r.loop(interval)
	return r
}

func (r *Retention) loop(interval time.Duration) {
	defer close(r.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		r.runLogged()
		select {
		case <-t.C:
		case <-r.stop:
			return
		}
	}
}

func (r *Retention) runLogged() {
	start := time.Now()
	cutoff := r.now().Add(-time.Duration(r.days) * 24 * time.Hour)
	n, err := r.RunOnce(cutoff)
	r.runs.Add(1)
	if err != nil {
		r.failures.Add(1)
	}
	switch {
	case err != nil:
		r.log.Error("retention run failed", "removed", n, "cutoff", cutoff.UTC().Format(time.RFC3339), "err", err)
	case n > 0:
		r.log.Info("retention removed finished executions", "removed", n, "days", r.days,
			"cutoff", cutoff.UTC().Format(time.RFC3339), "durationMs", time.Since(start).Milliseconds())
	default:
		r.log.Debug("retention: nothing to remove", "cutoff", cutoff.UTC().Format(time.RFC3339))
	}
}

// RunOnce removes every finished execution completed before cutoff, in
// transactions of RetentionBatch, then the analytics rows of executions
// created before cutoff's UTC day (PruneAnalyticsRunsBefore: the day
// aggregates keep counting them), and returns how many executions it
// removed. It stops early (without error) when the job is stopped.
func (r *Retention) RunOnce(cutoff time.Time) (int, error) {
	total := 0
	for {
		n, err := r.store.DeleteExecutionsFinishedBefore(cutoff, RetentionBatch)
		total += n
		r.removed.Add(uint64(n))
		if err != nil {
			return total, fmt.Errorf("storage: retention: %w", err)
		}
		if n < RetentionBatch {
			if _, err := r.store.PruneAnalyticsRunsBefore(cutoff, 5*RetentionBatch); err != nil {
				return total, fmt.Errorf("storage: retention: analytics rows: %w", err)
			}
			return total, nil
		}
		select {
		case <-r.stop:
			return total, nil
		default:
		}
	}
}

// Stop ends the job, waiting for a run in progress to finish its current
// batch. It is safe to call more than once.
func (r *Retention) Stop() {
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.done
}
