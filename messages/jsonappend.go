package messages

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// Hand-written JSON encoders for the records on the hottest paths (an
// execution is encoded once when it is stored and once more when it is
// answered; lists encode fifty at a time). They write exactly what
// encoding/json writes for the same value — same field order, same string
// escaping (HTML characters, U+2028/U+2029, invalid UTF-8), RawMessage
// compacted — without reflection and without an allocation per field
// (jsonappend_test.go checks the equality against encoding/json on random
// and fuzzed records). Anything unusual falls back to encoding/json for
// that one value, so the output never differs.

// AppendJSON appends the JSON form of t (a quoted RFC 3339 UTC time with
// milliseconds, or null when unset) to b.
func (t Time) AppendJSON(b []byte) []byte {
	if t == 0 {
		return append(b, "null"...)
	}
	st := time.UnixMilli(int64(t)).UTC()
	year, month, day := st.Date()
	if year < 0 || year > 9999 {
		// Outside what four digits hold: time's own formatting.
		b = append(b, '"')
		b = st.AppendFormat(b, "2006-01-02T15:04:05.000Z")
		return append(b, '"')
	}
	hour, minute, sec := st.Clock()
	ms := int(int64(t) % 1000)
	if ms < 0 {
		ms += 1000
	}
	b = append(b, '"')
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, ms, 3)
	return append(b, 'Z', '"')
}

// appendDigits appends v (non-negative) zero-padded to width digits.
func appendDigits(b []byte, v, width int) []byte {
	var buf [4]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, buf[:width]...)
}

// AppendJSONString appends s as a JSON string exactly as encoding/json
// writes it (HTML characters escaped).
func AppendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONStringPtr appends *s, or null when s is nil.
func appendJSONStringPtr(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return AppendJSONString(b, *s)
}

// AppendRawJSON appends a RawMessage as encoding/json does: null when
// empty, else compacted with HTML characters escaped. Raw input that needs
// neither is copied as it is.
func AppendRawJSON(b []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r', '<', '>', '&', 0xE2: // 0xE2 starts U+2028/U+2029
			var buf bytes.Buffer
			if err := json.Compact(&buf, raw); err != nil {
				// Not JSON (never stored so): encoding/json would refuse
				// the whole value; null keeps the record readable.
				return append(b, "null"...)
			}
			var esc bytes.Buffer
			json.HTMLEscape(&esc, buf.Bytes())
			return append(b, esc.Bytes()...)
		}
	}
	return append(b, raw...)
}

// appendJSONFloat appends f as encoding/json formats a float64.
func appendJSONFloat(b []byte, f float64) []byte {
	q, err := json.Marshal(f)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, q...)
}

// AppendJSON appends m as encoding/json writes it (nil is null).
func (m *ExecutionMetrics) AppendJSON(b []byte) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	first := true
	field := func(name string, v *float64) {
		if v == nil {
			return
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, name...)
		b = appendJSONFloat(b, *v)
	}
	field(`"cpuAvg":`, m.CPUAvg)
	field(`"cpuPeak":`, m.CPUPeak)
	field(`"memAvgMB":`, m.MemAvgMB)
	field(`"memPeakMB":`, m.MemPeakMB)
	return append(b, '}')
}

// The views of an execution appendJSON writes.
const (
	execViewFull    = iota // every field
	execViewSummary        // lists: every field but input and logs
	execViewEvent          // live events and deliveries: every field but logs
)

// AppendJSON appends e as encoding/json writes it, without reflection.
func (e *Execution) AppendJSON(b []byte) []byte { return e.appendJSON(b, execViewFull) }

// AppendSummaryJSON appends e as lists show it: every field but input and
// logs.
func (e *Execution) AppendSummaryJSON(b []byte) []byte { return e.appendJSON(b, execViewSummary) }

// AppendEventJSON appends e as execution events show it: every field but
// logs (docs/api.md, "Live events").
func (e *Execution) AppendEventJSON(b []byte) []byte { return e.appendJSON(b, execViewEvent) }

func (e *Execution) appendJSON(b []byte, view int) []byte {
	b = append(b, `{"id":`...)
	b = AppendJSONString(b, e.ID)
	b = append(b, `,"workflowId":`...)
	b = AppendJSONString(b, e.WorkflowID)
	b = append(b, `,"workflow":{"id":`...)
	b = AppendJSONString(b, e.Workflow.ID)
	b = append(b, `,"name":`...)
	b = AppendJSONString(b, e.Workflow.Name)
	b = append(b, `},"versionId":`...)
	b = AppendJSONString(b, e.VersionID)
	b = append(b, `,"runnerId":`...)
	b = appendJSONStringPtr(b, e.RunnerID)
	b = append(b, `,"triggeredBy":`...)
	b = appendJSONStringPtr(b, e.TriggeredBy)
	b = append(b, `,"triggerId":`...)
	b = appendJSONStringPtr(b, e.TriggerID)
	b = append(b, `,"status":`...)
	b = AppendJSONString(b, string(e.Status))
	b = append(b, `,"priority":`...)
	b = AppendJSONString(b, string(e.Priority))
	if view != execViewSummary {
		b = append(b, `,"input":`...)
		b = AppendRawJSON(b, e.Input)
	}
	if view == execViewFull {
		b = append(b, `,"logs":`...)
		b = appendJSONStringPtr(b, e.Logs)
	}
	b = append(b, `,"metrics":`...)
	b = e.Metrics.AppendJSON(b)
	b = append(b, `,"error":`...)
	b = appendJSONStringPtr(b, e.Error)
	b = append(b, `,"attempt":`...)
	b = strconv.AppendInt(b, int64(e.Attempt), 10)
	b = append(b, `,"stopRequested":`...)
	b = strconv.AppendBool(b, e.StopRequested)
	if e.DedupeKey != "" {
		b = append(b, `,"dedupeKey":`...)
		b = AppendJSONString(b, e.DedupeKey)
	}
	b = append(b, `,"enqueuedAt":`...)
	b = e.EnqueuedAt.AppendJSON(b)
	b = append(b, `,"assignedAt":`...)
	b = e.AssignedAt.AppendJSON(b)
	b = append(b, `,"startedAt":`...)
	b = e.StartedAt.AppendJSON(b)
	b = append(b, `,"completedAt":`...)
	b = e.CompletedAt.AppendJSON(b)
	b = append(b, `,"createdAt":`...)
	b = e.CreatedAt.AppendJSON(b)
	b = append(b, `,"updatedAt":`...)
	b = e.UpdatedAt.AppendJSON(b)
	b = append(b, `,"runnerLabels":`...)
	b = AppendLabels(b, e.RunnerLabels)
	if w := e.Waiting; w != nil {
		b = append(b, `,"waiting":{"position":`...)
		b = strconv.AppendInt(b, int64(w.Position), 10)
		b = append(b, `,"ahead":`...)
		b = strconv.AppendInt(b, int64(w.Ahead), 10)
		b = append(b, `,"matchingRunners":{"online":`...)
		b = strconv.AppendInt(b, int64(w.MatchingRunners.Online), 10)
		b = append(b, `,"busy":`...)
		b = strconv.AppendInt(b, int64(w.MatchingRunners.Busy), 10)
		b = append(b, `,"offline":`...)
		b = strconv.AppendInt(b, int64(w.MatchingRunners.Offline), 10)
		b = append(b, `},"reason":`...)
		b = AppendJSONString(b, w.Reason)
		b = append(b, '}')
	}
	return append(b, '}')
}

// AppendLabels appends labels as a JSON array ([] for none).
func AppendLabels(b []byte, labels []string) []byte {
	b = append(b, '[')
	for i, l := range labels {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONString(b, l)
	}
	return append(b, ']')
}

// MarshalJSON encodes e through AppendJSON (encoding/json then only checks
// and copies the bytes instead of walking the struct by reflection).
func (e *Execution) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(make([]byte, 0, 512)), nil
}
