package loadgen

import (
	"sync/atomic"
)

// runPoll drives idle runners that poll without work.
func runPoll(e *env) error {
	creds, err := e.setupRunners(e.res.Runners, "poll")
	if err != nil {
		return err
	}
	before, err := e.t.stats()
	if err != nil {
		return err
	}
	var gotWork, failed atomic.Int64
	elapsed := runLoad(e.loadShape(e.res.Concurrency), func(_ int, seq int64) {
		ans, err := e.t.poll(e.rec, creds[int(seq)%len(creds)], 0)
		switch {
		case err != nil:
			failed.Add(1)
		case ans.HasWork:
			gotWork.Add(1)
		}
	})
	e.summarize(e.rec, elapsed)
	after, err := e.t.stats()
	if err != nil {
		return err
	}
	e.res.check("every poll answered 200", failed.Load() == 0, "%d failed", failed.Load())
	e.res.check("no work handed out from an empty queue", gotWork.Load() == 0 || !e.t.managed, "%d answers had work", gotWork.Load())
	e.res.check("polling changed no execution", after["total"] == before["total"] && after["assigned"] == before["assigned"],
		"total %d -> %d, assigned %d -> %d", before["total"], after["total"], before["assigned"], after["assigned"])
	e.checkStatsAgree()
	return nil
}

// runHeartbeat drives runners that do nothing but heartbeat.
func runHeartbeat(e *env) error {
	creds, err := e.setupRunners(e.res.Runners, "heartbeat")
	if err != nil {
		return err
	}
	var failed, malformed atomic.Int64
	elapsed := runLoad(e.loadShape(e.res.Concurrency), func(_ int, seq int64) {
		ans, err := e.t.heartbeat(e.rec, creds[int(seq)%len(creds)])
		switch {
		case err != nil:
			failed.Add(1)
		case ans.Status != "ONLINE" && ans.Status != "BUSY", ans.TTLSeconds == nil || *ans.TTLSeconds <= 0, ans.StopExecutionIDs == nil:
			malformed.Add(1)
		}
	})
	e.summarize(e.rec, elapsed)
	e.res.check("every heartbeat answered 200", failed.Load() == 0, "%d failed", failed.Load())
	e.res.check("answers carry status, ttlSeconds and a stopExecutionIds array", malformed.Load() == 0, "%d malformed", malformed.Load())
	var offline []string
	for _, c := range sample(creds, 10) {
		var ans struct {
			Runner struct {
				Status          string  `json:"status"`
				LastHeartbeatAt *string `json:"lastHeartbeatAt"`
			} `json:"runner"`
		}
		if _, err := e.t.call(nil, "check", "GET", "/api/runners/"+c.ID, e.t.adminToken, nil, &ans, 200); err != nil {
			return err
		}
		if ans.Runner.Status != "ONLINE" || ans.Runner.LastHeartbeatAt == nil {
			offline = append(offline, c.Name+"="+ans.Runner.Status)
		}
	}
	e.res.check("sampled runners are ONLINE with lastHeartbeatAt", len(offline) == 0, "%v", offline)
	return nil
}

// sample returns up to n items spread over list.
func sample[T any](list []T, n int) []T {
	if len(list) <= n {
		return list
	}
	out := make([]T, 0, n)
	step := len(list) / n
	for i := 0; i < n; i++ {
		out = append(out, list[i*step])
	}
	return out
}
