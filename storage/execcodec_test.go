package storage

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/exekra/orchestrator/messages"
)

// TestStoredExecutionRoundTrip: what appendStoredExecution writes decodes
// (as every reader decodes it) to the same execution, for random records.
func TestStoredExecutionRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	alphabet := []string{"a", "Z", "0", " ", "\"", "\\", "<", "&", "\n", "\x00", "é", "\u2028", "😀"}
	str := func() string {
		var b []byte
		for i := r.IntN(5); i > 0; i-- {
			b = append(b, alphabet[r.IntN(len(alphabet))]...)
		}
		return string(b)
	}
	opt := func() *string {
		if r.IntN(2) == 0 {
			return nil
		}
		s := str()
		return &s
	}
	tm := func() messages.Time {
		if r.IntN(3) == 0 {
			return 0
		}
		return messages.Time(r.Int64N(4e12) - 1e12)
	}
	f := func() *float64 {
		if r.IntN(2) == 0 {
			return nil
		}
		v := r.NormFloat64() * 100
		return &v
	}
	for i := 0; i < 20000; i++ {
		e := &messages.Execution{
			ID: str(), WorkflowID: str(), Workflow: messages.WorkflowRef{ID: str(), Name: str()}, VersionID: str(),
			RunnerID: opt(), TriggeredBy: opt(), TriggerID: opt(),
			Status: messages.ExecutionStatus(str()), Priority: messages.Priority(str()),
			Logs: opt(), Error: opt(), Attempt: r.IntN(4), StopRequested: r.IntN(2) == 0, DedupeKey: str(),
			EnqueuedAt: tm(), AssignedAt: tm(), StartedAt: tm(), CompletedAt: tm(), CreatedAt: tm(), UpdatedAt: tm(),
		}
		if r.IntN(2) == 0 {
			e.Input, _ = json.Marshal(map[string]any{str(): []any{str(), r.IntN(9), nil}})
		}
		if r.IntN(2) == 0 {
			e.Metrics = &messages.ExecutionMetrics{CPUAvg: f(), CPUPeak: f(), MemAvgMB: f(), MemPeakMB: f()}
		}
		stored := appendStoredExecution(nil, e)
		var got messages.Execution
		if err := decode(stored, &got); err != nil {
			t.Fatalf("decode %s: %v", stored, err)
		}
		if !reflect.DeepEqual(&got, e) {
			t.Fatalf("round trip differs:\n stored %s\n got  %+v\n want %+v", stored, got, *e)
		}
	}
}

// TestStoredExecutionReadsOldForm: records written before the compact form
// (the API's full JSON, nulls and RFC 3339 times) still read the same.
func TestStoredExecutionReadsOldForm(t *testing.T) {
	runner := "r1"
	e := &messages.Execution{ID: "x", WorkflowID: "w", Workflow: messages.WorkflowRef{ID: "w", Name: "n"}, VersionID: "v",
		RunnerID: &runner, Status: messages.ExecRunning, Priority: messages.PriorityHigh, Input: json.RawMessage(`{"a":1}`),
		Attempt: 2, EnqueuedAt: 1764236520123, AssignedAt: 1764236520200, StartedAt: 1764236521000,
		CreatedAt: 1764236520123, UpdatedAt: 1764236521000}
	old, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	// The full form as written before runner labels existed.
	old = bytes.Replace(old, []byte(`,"runnerLabels":[]`), nil, 1)
	var a, b messages.Execution
	if err := decode(old, &a); err != nil {
		t.Fatal(err)
	}
	if err := decode(appendStoredExecution(nil, e), &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(&b, e) {
		t.Fatalf("old %+v\nnew %+v\nwant %+v", a, b, *e)
	}
	if len(appendStoredExecution(nil, e)) >= len(old) {
		t.Fatalf("the compact form is not smaller: %d vs %d bytes", len(appendStoredExecution(nil, e)), len(old))
	}
}
