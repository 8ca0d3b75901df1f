package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/exekra/orchestrator/actors"
	"github.com/exekra/orchestrator/httpd"
	"github.com/exekra/orchestrator/storage"
)

// The operations commands (docs/operations.md): exekra backup, restore and compact work
// on a stopped server's data dir. A running server holds the database's
// lock; they notice within half a second and say so.

// backupCmd is `exekra backup --data-dir DIR --out FILE`.
func backupCmd(stdout io.Writer, getenv func(string) string) *cobra.Command {
	var dataDir, out string
	cmd := &cobra.Command{
		Use:   "backup --data-dir DIR --out FILE",
		Short: "Copy a stopped server's database to a file",
		Long: `Write a consistent copy of a stopped server's database to --out. A running
server holds the database's lock: take a hot backup with GET /api/system/backup
instead.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyEnv("exekra backup", cmd.Flags(), getenv); err != nil {
				return err
			}
			if out == "" {
				return usageErr("exekra backup: --out FILE is required")
			}
			if dataDir == "" {
				return usageErr("exekra backup: --data-dir must not be empty")
			}
			n, err := storage.BackupFile(dataDir, out)
			if err != nil {
				return explainLocked(err, "take a hot backup with GET /api/system/backup instead, or stop the server")
			}
			fmt.Fprintf(stdout, "backup of %s written to %s (%d bytes)\n", storage.DatabasePath(dataDir), out, n)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "./data", "data directory of a stopped server")
	cmd.Flags().StringVar(&out, "out", "", "file to write the backup to (required)")
	withEnv(cmd.Flags())
	return cmd
}

// restoreCmd is `exekra restore --from FILE --data-dir DIR [--force]`.
func restoreCmd(stdout io.Writer, getenv func(string) string) *cobra.Command {
	var from, dataDir string
	var force bool
	cmd := &cobra.Command{
		Use:   "restore --from FILE --data-dir DIR [--force]",
		Short: "Install a backup into a data dir",
		Long: `Install a backup (from exekra backup or GET /api/system/backup) into --data-dir.
A data dir that already holds a database is refused unless --force (the old
file is then kept beside it). Stop the server first.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyEnv("exekra restore", cmd.Flags(), getenv); err != nil {
				return err
			}
			if from == "" {
				return usageErr("exekra restore: --from FILE is required")
			}
			if dataDir == "" {
				return usageErr("exekra restore: --data-dir must not be empty")
			}
			n, replaced, err := storage.RestoreFile(from, dataDir, force, time.Now())
			if err != nil {
				return explainLocked(err, "stop the server before restoring")
			}
			if replaced != "" {
				fmt.Fprintf(stdout, "the previous database was kept as %s\n", replaced)
			}
			fmt.Fprintf(stdout, "restored %s into %s (%d bytes); start the server on this data dir\n", from, storage.DatabasePath(dataDir), n)
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "backup file to restore (required)")
	cmd.Flags().StringVar(&dataDir, "data-dir", "./data", "data directory to restore into")
	cmd.Flags().BoolVar(&force, "force", false, "replace a database already in the data dir (the old file is kept beside it); never read from the environment")
	// --force comes from the command line only.
	withEnv(cmd.Flags(), "data-dir")
	return cmd
}

// compactCmd is `exekra compact --data-dir DIR`.
func compactCmd(stdout io.Writer, getenv func(string) string) *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "compact --data-dir DIR",
		Short: "Shrink a stopped server's database file",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyEnv("exekra compact", cmd.Flags(), getenv); err != nil {
				return err
			}
			if dataDir == "" {
				return usageErr("exekra compact: --data-dir must not be empty")
			}
			before, after, err := storage.CompactFile(dataDir)
			if err != nil {
				return explainLocked(err, "stop the server before compacting")
			}
			fmt.Fprintf(stdout, "compacted %s: %d bytes before, %d bytes after (%s)\n",
				storage.DatabasePath(dataDir), before, after, sizeChange(before, after))
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "./data", "data directory of a stopped server")
	withEnv(cmd.Flags())
	return cmd
}

// explainLocked adds advice to the lock error.
func explainLocked(err error, advice string) error {
	if errors.Is(err, storage.ErrLocked) {
		return fmt.Errorf("the database is locked by a running server: %s", advice)
	}
	return err
}

// figuresOf reads the live figures /metrics exposes from the actor system's
// gauges, the store's group-commit statistics and the retention job (nil
// when off).
func figuresOf(sys *actors.System, st *storage.Store, ret *storage.Retention) func() httpd.Figures {
	return func() httpd.Figures {
		var f httpd.Figures
		if sys != nil {
			g := sys.Gauges()
			f.RunnersOnline, f.RunnersBusy, f.RunnersOffline = g.RunnersOnline.Load(), g.RunnersBusy.Load(), g.RunnersOffline.Load()
			for i := range f.QueueDepth {
				f.QueueDepth[i] = g.QueueDepth[i].Load()
			}
			f.WaitingPolls = g.WaitingClaims.Load()
			f.LiveExecutions = g.ActiveExecutions.Load()
			f.EventStreams, f.EventStreamsDropped = g.EventStreams.Load(), g.EventStreamsDropped.Load()
			f.ActorRestarts = sys.Restarts()
			f.Outcomes = outcomesOf(sys.ExecutionFigures())
			if st != nil {
				f.Deliveries = deliveriesOf(sys.OutboxFigures(), st.LastEventSeq(), sys.Now())
			}
		}
		if st != nil {
			cs := st.Stats()
			f.Commits, f.CommitFailures, f.CommitWrites = cs.Commits.Load(), cs.Failures.Load(), cs.Writes.Load()
			f.BatchSizes = httpd.Histogram{Bounds: storage.BatchSizeBounds[:], Counts: make([]uint64, len(cs.BatchSizes))}
			for i := range cs.BatchSizes {
				f.BatchSizes.Counts[i] = cs.BatchSizes[i].Load()
			}
			f.BatchSizes.Sum = float64(cs.Writes.Load())
			f.CommitSeconds = httpd.Histogram{Bounds: storage.CommitSecondsBounds[:], Counts: make([]uint64, len(cs.CommitDurations)),
				Sum: float64(cs.CommitNanos.Load()) / 1e9}
			for i := range cs.CommitDurations {
				f.CommitSeconds.Counts[i] = cs.CommitDurations[i].Load()
			}
			if st, err := st.ExecutionStats(); err == nil {
				f.Executions = &st
			}
			if fi, err := os.Stat(st.Path()); err == nil {
				f.StorageFileBytes = fi.Size()
			}
		}
		if ret != nil {
			rs := ret.Stats()
			f.Retention = &httpd.RetentionFigures{Runs: rs.Runs, Failures: rs.Failures, Removed: rs.Removed}
		}
		return f
	}
}

// outcomesOf snapshots the execution outcomes for /metrics.
func outcomesOf(x *actors.ExecutionFigures) *httpd.OutcomeFigures {
	o := &httpd.OutcomeFigures{
		Completed: x.Finished[0].Load(), Failed: x.Finished[1].Load(), Stopped: x.Finished[2].Load(),
		QueueWait:   httpd.Histogram{Bounds: actors.QueueWaitBounds[:]},
		RunDuration: httpd.Histogram{Bounds: actors.RunDurationBounds[:]},
	}
	o.QueueWait.Counts, o.QueueWait.Sum = x.QueueWait.Snapshot()
	o.RunDuration.Counts, o.RunDuration.Sum = x.RunDuration.Snapshot()
	return o
}

// deliveriesOf snapshots the delivery figures for /metrics: counters and
// the outbox views the delivery actors publish (no storage read).
func deliveriesOf(x *actors.OutboxFigures, last uint64, now time.Time) *httpd.DeliveryFigures {
	d := &httpd.DeliveryFigures{Outcomes: actors.DeliveryOutcomes[:], Attempts: make([]uint64, len(x.Attempts))}
	for i := range x.Attempts {
		d.Attempts[i] = x.Attempts[i].Load()
	}
	pending, oldest := x.Backlog(last, now)
	d.Pending, d.OldestPendingSeconds = pending, oldest.Seconds()
	return d
}

// sizeChange says how compaction changed a file's size: a tiny database
// can grow (bbolt's minimum file holds a few pages).
func sizeChange(before, after int64) string {
	switch {
	case before <= 0 || before == after:
		return "same size"
	case after < before:
		return fmt.Sprintf("%.1f%% smaller", 100*float64(before-after)/float64(before))
	default:
		return fmt.Sprintf("%.1f%% larger", 100*float64(after-before)/float64(before))
	}
}
