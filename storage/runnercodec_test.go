package storage

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/exekra/orchestrator/messages"
)

// TestAppendStoredRunnerRandom compares appendStoredRunner with
// encoding/json on random runners (strings that need escaping, optional
// fields absent and present, secrets) and reads the bytes back.
func TestAppendStoredRunnerRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	alphabet := []string{"a", "Z", "0", " ", "\"", "\\", "<", "&", "\n", "\x00", "é", "\u2028", "\xff", "😀"}
	str := func() string {
		var b []byte
		for i := r.IntN(6); i > 0; i-- {
			b = append(b, alphabet[r.IntN(len(alphabet))]...)
		}
		return string(b)
	}
	metrics := []json.RawMessage{nil, json.RawMessage(`{"cpu":12.5}`), json.RawMessage("{ \"x\": [1, 2] }")}
	for range 5000 {
		x := &messages.Runner{ID: str(), Name: str(), MachineKey: str(), Type: messages.RunnerType(str()),
			Status: messages.RunnerStatus(str()), LastHeartbeatAt: messages.Time(r.Int64N(1 << 45)),
			IPAddress: messages.NullString(str()), Metrics: metrics[r.IntN(len(metrics))],
			OfflineSince: messages.Time(r.Int64N(2) * r.Int64N(1<<45)), CreatedAt: messages.Time(r.Int64N(1 << 45)),
			UpdatedAt: messages.Time(r.Int64N(1 << 45)), SecretHash: str(), SecretEpoch: r.Int64N(1<<40) - 9}
		if r.IntN(2) == 0 {
			id := str()
			x.CurrentExecutionID = &id
		}
		if r.IntN(2) == 0 {
			x.Labels = []string{str(), str()}
		}
		sr := toStoredRunner(x)
		want, err := encode(&sr)
		if err != nil {
			t.Fatal(err)
		}
		got := appendStoredRunner(nil, x)
		if !bytes.Equal(got, want) {
			t.Fatalf("appendStoredRunner differs from encoding/json:\n got %s\nwant %s", got, want)
		}
		var back storedRunner
		if err := decode(got, &back); err != nil || back.SecretEpoch != x.SecretEpoch {
			t.Fatalf("read back %+v, %v", back, err)
		}
	}
}
