package actors

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

func TestDeliveryBackoffSchedule(t *testing.T) {
	want := []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute,
		time.Hour, 2 * time.Hour, 2 * time.Hour}
	var total time.Duration
	for i, w := range want {
		if got := backoffAfter(i + 1); got != w {
			t.Fatalf("after failure %d: %v, want %v", i+1, got, w)
		}
	}
	// Within 24 h: about 16 attempts, then the delivery is given up.
	n := 0
	for total < deliveryGiveUp {
		n++
		total += backoffAfter(n)
	}
	if n < 12 || n > 20 {
		t.Fatalf("%d attempts in 24 h", n)
	}
}

func TestDeliveryPayloadIsWhatEncodingJSONWrites(t *testing.T) {
	for _, data := range []string{``, `{}`, `{"a":1,"b":"<x> & y"}`, "{ \"spaced\" : [1, 2] }", `{"s":"\u2028"}`} {
		ts := messages.TimeOf(time.Date(2026, 12, 6, 15, 4, 5, 6e6, time.UTC))
		got := payloadOf("evt_12_execution_failed", "execution.failed", ts, json.RawMessage(data))
		raw := json.RawMessage(data)
		if data == "" {
			raw = json.RawMessage(`{}`)
		}
		want, err := json.Marshal(&messages.OutboundPayload{ID: "evt_12_execution_failed", Type: "execution.failed", Timestamp: ts, Data: raw})
		if err != nil || string(got) != string(want) {
			t.Fatalf("data %q: %s, want %s (%v)", data, got, want, err)
		}
	}
}
