package loadgen

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/exekra/orchestrator/messages"
	"github.com/exekra/orchestrator/storage"
)

// runBacklog measures what a backlog of queued executions costs the server:
// resident memory and the time a restart takes to serve again. It sets up a
// published workflow and --runners registered runners (plus one that
// polls) through the API, stops the server, writes --queued QUEUED
// executions straight into its data dir (in large batches: the API would
// take minutes for a million), then starts the server again on that data
// and times the start until /api/health answers and until a poll hands out
// the head of the queue. Memory is read from /proc after that first poll.
func runBacklog(e *env) error {
	m := e.t.server
	if m == nil {
		return errors.New("backlog needs a self-managed server (no --url)")
	}
	wf, err := e.t.createPublishedWorkflow(e.prefix("backlog"))
	if err != nil {
		return err
	}
	n := e.cfg.runners
	creds, err := e.t.registerRunners(n+1, e.prefix("runner"), 16, e.logf)
	if err != nil {
		return err
	}
	poller := creds[n]
	e.logf("backlog: stopping the server to seed %d queued executions", e.cfg.queued)
	if err := m.stop(); err != nil {
		return err
	}
	seedStart := time.Now()
	if err := seedQueued(filepath.Join(m.dir, "data"), wf, e.cfg.queued); err != nil {
		return err
	}
	e.logf("backlog: seeded in %s; restarting", time.Since(seedStart).Round(time.Millisecond))
	start := time.Now()
	if err := m.start(); err != nil {
		return err
	}
	e.t.pid = m.cmd.Process.Pid
	if err := e.t.waitHealthyFast(60*time.Second, m.alive); err != nil {
		return err
	}
	healthy := time.Since(start)
	if _, err := e.t.heartbeat(e.rec, poller); err != nil {
		return err
	}
	ans, err := e.t.poll(e.rec, poller, 0)
	if err != nil {
		return err
	}
	serving := time.Since(start)
	// CPU spent by the server from its start to here: on a shared machine
	// the wall time moves with the load, this much less.
	startCPU, _ := cpuSeconds(e.t.pid)
	rss, _ := currentRSSMiB(e.t.pid)
	peak, _ := peakRSSMiB(e.t.pid)
	// Anonymous memory is the server's own; file pages are bbolt's mapped
	// database, which the kernel may drop at any time.
	anon, _ := statusMiB(e.t.pid, "RssAnon:")
	file, _ := statusMiB(e.t.pid, "RssFile:")
	if e.res.Extra == nil {
		e.res.Extra = map[string]float64{}
	}
	e.res.Extra["queued executions"] = float64(e.cfg.queued)
	e.res.Extra["registered runners"] = float64(n + 1)
	e.res.Extra["restart to healthy s"] = healthy.Seconds()
	e.res.Extra["restart to first assignment s"] = serving.Seconds()
	e.res.Extra["restart CPU s"] = startCPU
	e.res.Extra["RSS after restart MiB"] = rss
	e.res.Extra["peak RSS after restart MiB"] = peak
	e.res.Extra["RSS anonymous MiB"] = anon
	e.res.Extra["RSS file-backed (database map) MiB"] = file
	e.res.check("a poll after the restart gets the head of the queue", ans.HasWork, "hasWork %v", ans.HasWork)
	limit, mem := 3*time.Second, 512.0
	if e.cfg.queued <= 200000 {
		limit, mem = time.Second, 256
	}
	e.res.check(fmt.Sprintf("restart serves polls within %s", limit), serving < limit, "%s with %d queued", serving.Round(time.Millisecond), e.cfg.queued)
	e.res.check(fmt.Sprintf("resident memory after the restart under %.0f MiB", mem), rss < mem, "%.0f MiB (peak %.0f)", rss, peak)
	stats, err := e.t.stats()
	if err != nil {
		return err
	}
	e.res.check("every seeded execution is there", stats["queued"]+stats["assigned"] >= int64(e.cfg.queued), "queued %d, assigned %d", stats["queued"], stats["assigned"])
	return nil
}

// seedQueued writes n QUEUED executions of workflow wf into the database
// in dir, in batches of 5,000 per commit.
func seedQueued(dir, wf string, n int) error {
	st, err := storage.Open(dir, storage.Options{})
	if err != nil {
		return fmt.Errorf("seed: open: %w", err)
	}
	defer st.Close()
	prios := []messages.Priority{messages.PriorityLow, messages.PriorityNormal, messages.PriorityHigh}
	base := time.Now()
	for done := 0; done < n; {
		size := min(5000, n-done)
		es := make([]*messages.Execution, size)
		keys := make([]string, size)
		for i := range es {
			at := base.Add(time.Duration(done+i) * time.Microsecond)
			ts := messages.TimeOf(at)
			es[i] = &messages.Execution{ID: messages.NewID(at), WorkflowID: wf, Status: messages.ExecQueued,
				Priority: prios[(done+i)%3], Attempt: 1, EnqueuedAt: ts, CreatedAt: ts, UpdatedAt: ts}
		}
		ch := make(chan error, 1)
		st.CreateExecutionsAsync(es, keys, func(out []messages.CreateOutcome, err error) {
			if err == nil {
				for _, o := range out {
					if o.Err != nil {
						err = o.Err
						break
					}
				}
			}
			ch <- err
		})
		if err := <-ch; err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		done += size
	}
	return st.Close()
}

// waitHealthyFast is waitHealthy polling every 10 ms (it times a start).
func (t *target) waitHealthyFast(limit time.Duration, alive func() error) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if err := alive(); err != nil {
			return err
		}
		resp, err := t.client.Do(nil, "health", Request{Method: "GET", Path: "/api/health", Timeout: time.Second})
		if err == nil && resp.Status == 200 {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("server not healthy after %s", limit)
}

// stop sends SIGTERM and waits for the server to exit (keeping its dir).
func (m *managedServer) stop() error {
	select {
	case <-m.exited:
		return fmt.Errorf("server exited early: %v", m.waitErr)
	default:
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(20 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.exited
		return errors.New("server did not stop within 20s of SIGTERM")
	}
	if m.waitErr != nil {
		return fmt.Errorf("server exit: %v; log: %s", m.waitErr, m.logTail(3))
	}
	return nil
}

// start starts the server again with the same arguments and data dir.
func (m *managedServer) start() error {
	logFile, err := os.OpenFile(m.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(m.cmd.Path, m.cmd.Args[1:]...)
	cmd.Stdout, cmd.Stderr, cmd.SysProcAttr = logFile, logFile, childProcAttr()
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("restart: %w", err)
	}
	m.cmd, m.exited, m.waitErr = cmd, make(chan struct{}), nil
	exited := m.exited
	go func() {
		m.waitErr = cmd.Wait()
		_ = logFile.Close()
		close(exited)
	}()
	return nil
}
