package storage

import (
	"strconv"

	"github.com/exekra/orchestrator/messages"
)

// appendStoredExecution appends the compact JSON form executions are stored
// in: the API's field names, but fields that are null, false or zero are
// left out and times are Unix milliseconds. json.Unmarshal into a
// messages.Execution reads it back exactly (absent fields are zero values;
// messages.Time accepts numbers), and it reads the older full form too, so
// no migration is involved.
//
// Why: a queued execution took ~480 bytes in the full form and ~300 in this
// one. bbolt writes whole 4 KiB pages, copy-on-write, so a commit of 50
// creations rewrote ~16 leaf pages of the executions bucket; fewer, fuller
// pages mean fewer page writes per commit and a smaller file (the
// measurements are in docs/performance.md).
func appendStoredExecution(b []byte, e *messages.Execution) []byte {
	b = append(b, `{"id":`...)
	b = messages.AppendJSONString(b, e.ID)
	b = append(b, `,"workflowId":`...)
	b = messages.AppendJSONString(b, e.WorkflowID)
	b = append(b, `,"workflow":{"id":`...)
	b = messages.AppendJSONString(b, e.Workflow.ID)
	b = append(b, `,"name":`...)
	b = messages.AppendJSONString(b, e.Workflow.Name)
	b = append(b, `},"versionId":`...)
	b = messages.AppendJSONString(b, e.VersionID)
	b = appendOptString(b, `,"runnerId":`, e.RunnerID)
	b = appendOptString(b, `,"triggeredBy":`, e.TriggeredBy)
	b = appendOptString(b, `,"triggerId":`, e.TriggerID)
	b = append(b, `,"status":`...)
	b = messages.AppendJSONString(b, string(e.Status))
	b = append(b, `,"priority":`...)
	b = messages.AppendJSONString(b, string(e.Priority))
	if len(e.Input) > 0 {
		b = append(b, `,"input":`...)
		b = messages.AppendRawJSON(b, e.Input)
	}
	b = appendOptString(b, `,"logs":`, e.Logs)
	if e.Metrics != nil {
		b = append(b, `,"metrics":`...)
		b = e.Metrics.AppendJSON(b)
	}
	b = appendOptString(b, `,"error":`, e.Error)
	if e.Attempt != 0 {
		b = append(b, `,"attempt":`...)
		b = strconv.AppendInt(b, int64(e.Attempt), 10)
	}
	if e.StopRequested {
		b = append(b, `,"stopRequested":true`...)
	}
	if e.DedupeKey != "" {
		b = append(b, `,"dedupeKey":`...)
		b = messages.AppendJSONString(b, e.DedupeKey)
	}
	b = appendMillis(b, `,"enqueuedAt":`, e.EnqueuedAt)
	b = appendMillis(b, `,"assignedAt":`, e.AssignedAt)
	b = appendMillis(b, `,"startedAt":`, e.StartedAt)
	b = appendMillis(b, `,"completedAt":`, e.CompletedAt)
	b = appendMillis(b, `,"createdAt":`, e.CreatedAt)
	b = appendMillis(b, `,"updatedAt":`, e.UpdatedAt)
	if len(e.RunnerLabels) > 0 {
		b = append(b, `,"runnerLabels":`...)
		b = messages.AppendLabels(b, e.RunnerLabels)
	}
	return append(b, '}')
}

// appendOptString appends the field when s is set.
func appendOptString(b []byte, field string, s *string) []byte {
	if s == nil {
		return b
	}
	return messages.AppendJSONString(append(b, field...), *s)
}

// appendMillis appends the field as Unix milliseconds when t is set.
func appendMillis(b []byte, field string, t messages.Time) []byte {
	if t == 0 {
		return b
	}
	return strconv.AppendInt(append(b, field...), int64(t), 10)
}
