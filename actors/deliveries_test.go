package actors

import (
	"testing"
	"time"
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
