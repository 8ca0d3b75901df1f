package messages

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// TestRunnerAppendJSONRandom compares Runner.AppendJSON with encoding/json
// on random runners: strings that need escaping, absent and present
// optional fields, nil and empty labels, metrics that need compacting or
// HTML escaping, secrets that must stay out.
func TestRunnerAppendJSONRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	str := func() string { return awkwardString(r) }
	tm := func() Time {
		switch r.IntN(3) {
		case 0:
			return 0
		case 1:
			return Time(r.Int64N(400e9) - 100e9)
		}
		return Time(r.Int64N(1 << 50))
	}
	metrics := []json.RawMessage{nil, json.RawMessage(`{"cpu":12.5,"mem":300}`),
		json.RawMessage("{ \"note\": \"<b>&</b>\",\n \"x\": [1, 2] }"), json.RawMessage(`{"s":"\u2028"}`)}
	for i := 0; i < 20000; i++ {
		x := &Runner{ID: str(), Name: str(), MachineKey: str(), Type: RunnerType(str()), Status: RunnerStatus(str()),
			LastHeartbeatAt: tm(), IPAddress: NullString(str()), Metrics: metrics[r.IntN(len(metrics))],
			OfflineSince: tm(), CreatedAt: tm(), UpdatedAt: tm(), SecretHash: str(), SecretEpoch: r.Int64N(9)}
		if r.IntN(2) == 0 {
			id := str()
			x.CurrentExecutionID = &id
		}
		switch r.IntN(3) {
		case 0:
			x.Labels = []string{}
		case 1:
			x.Labels = []string{str(), str()}
		}
		want, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		if got := x.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("AppendJSON differs from encoding/json:\n got %s\nwant %s", got, want)
		}
	}
}
