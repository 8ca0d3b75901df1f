package refrunner

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// maxPendingLog bounds the log text kept for the next report (the server
// takes bodies up to 1 MiB); older pending lines are dropped beyond it.
const maxPendingLog = 512 << 10

// logTimeLayout is the timestamp of an execution log line.
const logTimeLayout = "2006-01-02T15:04:05.000Z"

// execLog collects an execution's log lines until a report takes them.
type execLog struct {
	now    func() time.Time
	logger *slog.Logger

	// mask hides the execution's secret asset values (assets.go); nil
	// masks nothing. Set before the first line.
	mask *masker

	mu      sync.Mutex
	pending []string
	size    int
	dropped int
}

// newExecLog returns an empty log that also echoes lines to logger at debug level.
func newExecLog(now func() time.Time, logger *slog.Logger) *execLog {
	return &execLog{now: now, logger: logger}
}

// add appends msg as one line per text line, each stamped `[time] `.
func (l *execLog) add(msg string) {
	msg = l.mask.mask(msg)
	ts := l.now().UTC().Format(logTimeLayout)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range strings.Split(msg, "\n") {
		l.logger.Debug("execution log", "line", line)
		entry := "[" + ts + "] " + strings.TrimRight(line, "\r") + "\n"
		l.pending = append(l.pending, entry)
		l.size += len(entry)
	}
	for l.size > maxPendingLog && len(l.pending) > 1 {
		l.size -= len(l.pending[0])
		l.pending = l.pending[1:]
		l.dropped++
	}
}

// addf appends a formatted line.
func (l *execLog) addf(format string, args ...any) { l.add(fmt.Sprintf(format, args...)) }

// take returns and clears the pending text (every line ends with "\n").
func (l *execLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	if l.dropped > 0 {
		fmt.Fprintf(&b, "[%s] (%d earlier log entries dropped while reports could not be delivered)\n", l.now().UTC().Format(logTimeLayout), l.dropped)
		l.dropped = 0
	}
	for _, line := range l.pending {
		b.WriteString(line)
	}
	l.pending, l.size = nil, 0
	return b.String()
}

// putBack returns text from a failed report to the front of the pending lines.
func (l *execLog) putBack(text string) {
	if text == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = append([]string{text}, l.pending...)
	l.size += len(text)
	for l.size > maxPendingLog && len(l.pending) > 1 {
		l.size -= len(l.pending[0])
		l.pending = l.pending[1:]
		l.dropped++
	}
}
