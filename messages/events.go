package messages

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Event types of the live stream (docs/api.md, "Live events").
const (
	// EventExecution carries the execution as GET /api/executions/:id
	// shows it, without the logs field, after any change.
	EventExecution = "execution"
	// EventExecutionLog carries text appended to an execution's log
	// (ExecutionLogChunk).
	EventExecutionLog = "execution.log"
	// EventRunner carries the runner as GET /api/runners/:id shows it, on
	// status changes (durable) and with fresh metrics (live only).
	EventRunner = "runner"
	// EventTrigger carries the trigger as GET /api/triggers/:id shows it,
	// after a fire or a change ("deleted": true once removed).
	EventTrigger = "trigger"
	// EventLicense carries the license status object on status changes.
	EventLicense = "license"
	// EventStats carries the execution stats, at most once a second while
	// they change.
	EventStats = "stats"
	// EventReset starts a stream whose resume point is older than the
	// buffer: the client reloads, then follows.
	EventReset = "reset"
)

// EventTypes lists the types a stream may filter on.
var EventTypes = []string{EventExecution, EventExecutionLog, EventRunner, EventTrigger, EventLicense, EventStats}

// Event is one domain event: the public record of a change. Seq numbers
// every event of the server in one increasing sequence (storage assigns it
// when the change commits); Data is the JSON of its payload.
//
// Durable events are written in the same transaction as the change that
// caused them; Live events (log chunks, metric-only runner updates, stats)
// take a number from the same sequence but are only fanned out, never
// stored (docs/decisions.md, "Live events").
type Event struct {
	Seq  uint64
	Type string
	Time Time
	// Subject is the id of the record the event is about (the execution
	// of an execution or execution.log event), for stream filters.
	Subject string
	Data    json.RawMessage
	Live    bool
	// Outbound are the outbound webhook types this event is delivered as
	// (OutboundEventTypes: "execution.completed", "runner.offline", …);
	// empty for events no subscription hears. Durable events only.
	Outbound []string
}

// Effects are what a change produces besides its record: its audit entry
// and its domain events, committed in the same transaction.
type Effects struct {
	Audit  *AuditEntry
	Events []Event
}

// AuditOnly is the Effects of a change with an audit entry (nil for none)
// and no events.
func AuditOnly(a *AuditEntry) Effects { return Effects{Audit: a} }

// ExecutionEvent is the execution event of e (its logs left out).
func ExecutionEvent(e *Execution, live bool) Event {
	return Event{Type: EventExecution, Time: e.UpdatedAt, Subject: e.ID, Data: e.AppendEventJSON(make([]byte, 0, 512)), Live: live}
}

// ExecutionLogChunk is the payload of an execution.log event: chunk was
// appended to the log of execution ID at byte Offset of the stored log.
type ExecutionLogChunk struct {
	ID     string `json:"id"`
	Offset int    `json:"offset"`
	Chunk  string `json:"chunk"`
}

// ExecutionLogEvent is the live event of a log chunk.
func ExecutionLogEvent(id string, offset int, chunk string, at Time) Event {
	b := append(make([]byte, 0, len(chunk)+64), `{"id":`...)
	b = AppendJSONString(b, id)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, int64(offset), 10)
	b = append(b, `,"chunk":`...)
	b = AppendJSONString(b, chunk)
	b = append(b, '}')
	return Event{Type: EventExecutionLog, Time: at, Subject: id, Data: b, Live: true}
}

// JSONEvent is an event whose payload is v encoded as JSON (an encoding
// error, impossible for the records it is used with, gives null).
func JSONEvent(typ, subject string, at Time, v any, live bool) Event {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte("null")
	}
	return Event{Type: typ, Time: at, Subject: subject, Data: b, Live: live}
}

// AppendSSE appends e as a text/event-stream frame: id, event and data
// lines and the blank line that ends it. Data is one JSON line (encoding/json
// and the hand-written encoders escape newlines inside strings).
func AppendSSE(b []byte, e *Event) []byte {
	if e.Seq > 0 {
		b = append(b, "id: "...)
		b = strconv.AppendUint(b, e.Seq, 10)
		b = append(b, '\n')
	}
	b = append(b, "event: "...)
	b = append(b, e.Type...)
	b = append(b, "\ndata: "...)
	data := e.Data
	if len(data) == 0 {
		data = []byte("{}")
	}
	// A raw newline cannot occur in compact JSON; guard anyway, since a
	// stray one would split the frame.
	if strings.ContainsAny(string(data), "\r\n") {
		for _, line := range strings.FieldsFunc(string(data), func(r rune) bool { return r == '\n' || r == '\r' }) {
			b = append(b, line...)
			b = append(b, "\ndata: "...)
		}
		b = b[:len(b)-len("\ndata: ")]
	} else {
		b = append(b, data...)
	}
	return append(b, "\n\n"...)
}

// EventFilter selects the events of one stream: Types (empty: all) and
// ExecutionID (only that execution's execution and execution.log events).
type EventFilter struct {
	Types       map[string]bool
	ExecutionID string
}

// Match reports whether e passes f. A reset always passes.
func (f *EventFilter) Match(e *Event) bool {
	if e.Type == EventReset {
		return true
	}
	if len(f.Types) > 0 && !f.Types[e.Type] {
		return false
	}
	if f.ExecutionID != "" {
		return (e.Type == EventExecution || e.Type == EventExecutionLog) && e.Subject == f.ExecutionID
	}
	return true
}

// StreamEvent is an event as the fan-out hands it to streams: the event
// and its text/event-stream frame, made once and shared read-only.
type StreamEvent struct {
	Event *Event
	Frame []byte
}

// SubscribeEvents opens a live stream for a user's session. With Resume
// set, the stream starts after event After (from the recent-events
// buffer), or with a reset event when After is older than the buffer.
type SubscribeEvents struct {
	Filter  EventFilter
	Resume  bool
	After   uint64
	UserID  string
	TokenID string
}

// EventSubscription is an open stream. Events delivers batches in
// sequence order; it is closed when the stream must end (logout or
// disabling of its user, a client too slow to keep up, shutdown). Done is
// closed at the same time; Reason then says why.
type EventSubscription struct {
	ID     uint64
	Events <-chan []StreamEvent
	Reason func() string
}

// EndStreams ends the streams of a user's sessions: every stream of
// UserID (all of them when TokenID is empty and no Except is given), or the
// one session TokenID, or every session of UserID but Except. Sent by the
// accounts owner after a logout, a disabling or a password change.
type EndStreams struct {
	UserID  string
	TokenID string
	Except  string
	Reason  string
}

// Deleted is the payload of a record's last event: the record as it was,
// with "deleted": true.
type Deleted[T any] struct {
	Record  *T
	Deleted bool
}

// MarshalJSON writes the record's fields and "deleted".
func (d Deleted[T]) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(d.Record)
	if err != nil {
		return nil, err
	}
	if len(b) < 2 || b[len(b)-1] != '}' {
		return b, nil
	}
	if len(b) == 2 {
		return []byte(`{"deleted":true}`), nil
	}
	return append(b[:len(b)-1], `,"deleted":true}`...), nil
}
