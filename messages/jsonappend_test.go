package messages

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// plainExecution has Execution's fields without its MarshalJSON, so
// encoding/json walks it by reflection: the reference output.
type plainExecution Execution

// plainSummary is how lists showed an execution before AppendSummaryJSON:
// the fields without input and logs.
type plainSummary struct {
	*plainExecution
	Input json.RawMessage `json:"input,omitempty"`
	Logs  *string         `json:"logs,omitempty"`
}

// plainEvent is an execution as events show it: every field but logs.
type plainEvent struct {
	*plainExecution
	Logs *string `json:"logs,omitempty"`
}

// reference is e as encoding/json writes it, with runnerLabels an array
// even when nil (reads always show one).
func reference(t testing.TB, e *Execution) []byte {
	t.Helper()
	c := *e
	c.RunnerLabels = LabelsOrEmpty(c.RunnerLabels)
	b, err := json.Marshal((*plainExecution)(&c))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkSame(t testing.TB, e *Execution) {
	t.Helper()
	want := reference(t, e)
	if got := e.AppendJSON(nil); !bytes.Equal(got, want) {
		t.Fatalf("AppendJSON differs from encoding/json:\n got %s\nwant %s", got, want)
	}
	c := *e
	c.RunnerLabels = LabelsOrEmpty(c.RunnerLabels)
	sum, err := json.Marshal(plainSummary{plainExecution: (*plainExecution)(&c)})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.AppendSummaryJSON(nil); !bytes.Equal(got, sum) {
		t.Fatalf("AppendSummaryJSON differs from encoding/json:\n got %s\nwant %s", got, sum)
	}
	ev, err := json.Marshal(plainEvent{plainExecution: (*plainExecution)(&c)})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.AppendEventJSON(nil); !bytes.Equal(got, ev) {
		t.Fatalf("AppendEventJSON differs from encoding/json without logs:\n got %s\nwant %s", got, ev)
	}
	// Through json.Marshal (the MarshalJSON method) as well.
	if got, err := json.Marshal(e); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("json.Marshal differs: %v\n got %s\nwant %s", err, got, want)
	}
}

func ptr[T any](v T) *T { return &v }

func TestExecutionAppendJSONMatchesEncodingJSON(t *testing.T) {
	full := &Execution{
		ID: "01JX", WorkflowID: "wf", Workflow: WorkflowRef{ID: "wf", Name: "Invoices <Q3> & \"more\"\n\u2028é\xff"},
		VersionID: "v1", RunnerID: ptr("r1"), TriggeredBy: ptr("u1"), TriggerID: ptr("t\\1"),
		Status: ExecCompleted, Priority: PriorityHigh, Input: json.RawMessage(" {\"a\" : [1, 2, \"<x>\"],\n\"b\":\"\u2029\"} "),
		Logs: ptr("line 1\nline 2\t\x01"), Error: ptr(""), Attempt: 3, StopRequested: true, DedupeKey: "k&1",
		Metrics:    &ExecutionMetrics{CPUAvg: ptr(12.5), CPUPeak: ptr(1e21), MemAvgMB: ptr(0.000001), MemPeakMB: ptr(-3.0)},
		EnqueuedAt: 1, AssignedAt: Time(time.Date(2026, 11, 27, 9, 42, 0, 5e6, time.UTC).UnixMilli()),
		StartedAt: -1, CompletedAt: Time(time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli()),
		CreatedAt: Time(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()), UpdatedAt: Time(time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()),
	}
	cases := []*Execution{
		{},
		{ID: "x", Status: ExecQueued, Priority: PriorityNormal, Input: json.RawMessage(`{"n":1}`), Attempt: 1, CreatedAt: 1764236520123},
		{Metrics: &ExecutionMetrics{}},
		{Metrics: &ExecutionMetrics{MemPeakMB: ptr(512.0)}},
		{Input: json.RawMessage(`null`)},
		full,
	}
	for _, e := range cases {
		checkSame(t, e)
	}
}

func TestExecutionAppendJSONRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	str := func() string { return awkwardString(r) }
	opt := func() *string {
		if r.IntN(2) == 0 {
			return nil
		}
		return ptr(str())
	}
	tm := func() Time {
		switch r.IntN(3) {
		case 0:
			return 0
		case 1:
			return Time(r.Int64N(400e9) - 100e9) // around 1966..2096, negative too
		}
		return Time(r.Int64N(1 << 50))
	}
	for i := 0; i < 20000; i++ {
		in, _ := json.Marshal(map[string]any{str(): str(), "n": r.IntN(100)})
		e := &Execution{
			ID: str(), WorkflowID: str(), Workflow: WorkflowRef{ID: str(), Name: str()}, VersionID: str(),
			RunnerID: opt(), TriggeredBy: opt(), TriggerID: opt(), Status: ExecutionStatus(str()), Priority: Priority(str()),
			Logs: opt(), Error: opt(), Attempt: r.IntN(5) - 1, StopRequested: r.IntN(2) == 0, DedupeKey: str(),
			EnqueuedAt: tm(), AssignedAt: tm(), StartedAt: tm(), CompletedAt: tm(), CreatedAt: tm(), UpdatedAt: tm(),
		}
		if r.IntN(2) == 0 {
			e.Input = in
		}
		if r.IntN(3) == 0 {
			e.RunnerLabels = []string{str(), str()}
		}
		if r.IntN(3) == 0 {
			e.Waiting = &Waiting{Position: r.IntN(9), Ahead: r.IntN(9), Reason: str(),
				MatchingRunners: RunnerCounts{Online: r.IntN(3), Busy: r.IntN(3), Offline: r.IntN(3)}}
		}
		if r.IntN(2) == 0 {
			e.Metrics = &ExecutionMetrics{CPUAvg: ptr(r.Float64() * 100), MemPeakMB: ptr(r.NormFloat64() * 1e6)}
		}
		checkSame(t, e)
	}
}

// TestTimeAppendJSON compares the hand formatting with time's own.
func TestTimeAppendJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 100000; i++ {
		v := Time(r.Int64N(600e9) - 200e9)
		if i%10 == 0 {
			v = Time(r.Int64N(1<<52) - 1<<51)
		}
		if v == 0 {
			continue
		}
		want := `"` + v.Std().Format("2006-01-02T15:04:05.000Z") + `"`
		if got := string(v.AppendJSON(nil)); got != want {
			t.Fatalf("%d: got %s want %s", v, got, want)
		}
	}
	if got := string(Time(0).AppendJSON(nil)); got != "null" {
		t.Fatalf("zero: %s", got)
	}
}

func FuzzExecutionAppendJSON(f *testing.F) {
	f.Add("id", "name \u2028 <b>", `{"a":1}`, int64(1764236520123), "log\n")
	f.Add("", "\xff", ` [ 1 , 2 ] `, int64(-1), "")
	f.Fuzz(func(t *testing.T, id, name, input string, at int64, logs string) {
		e := &Execution{ID: id, Workflow: WorkflowRef{Name: name}, Logs: &logs, CreatedAt: Time(at), UpdatedAt: Time(at / 3)}
		if json.Valid([]byte(input)) {
			e.Input = json.RawMessage(input)
		}
		checkSame(t, e)
	})
}

func BenchmarkExecutionJSON(b *testing.B) {
	e := &Execution{ID: "01JX0000000000000000000000", WorkflowID: "01JW0000000000000000000000",
		Workflow: WorkflowRef{ID: "01JW0000000000000000000000", Name: "bench"}, VersionID: "01JV0000000000000000000000",
		TriggeredBy: ptr("01JU0000000000000000000000"), Status: ExecQueued, Priority: PriorityNormal,
		Input: json.RawMessage(`{"n":1}`), Attempt: 1, EnqueuedAt: 1764236520123, CreatedAt: 1764236520123, UpdatedAt: 1764236520123}
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 1024)
		for i := 0; i < b.N; i++ {
			buf = e.AppendJSON(buf[:0])
		}
	})
	b.Run("reflection", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := json.Marshal((*plainExecution)(e)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// awkwardString is a short random string of characters JSON encoders must
// escape, replace or keep: quotes, HTML characters, controls, line
// separators, invalid UTF-8 and characters outside the BMP.
func awkwardString(r *rand.Rand) string {
	alphabet := []string{"a", "Z", "0", " ", "\"", "\\", "<", ">", "&", "\n", "\t", "\x00", "\x1f", "é", "€", "\u2028", "\u2029", "\xff", "\xe2\x80", "😀"}
	var b []byte
	for i := r.IntN(6); i > 0; i-- {
		b = append(b, alphabet[r.IntN(len(alphabet))]...)
	}
	return string(b)
}
