package actors

import (
	"fmt"
	"testing"
	"time"
)

// TestLoginThrottleCountsLocksAndResets walks one email through the rules:
// N failures lock it for a minute (any password), each further failure
// doubles the lock up to 15 minutes, a success resets it; other emails,
// known or not, are counted apart and alike.
func TestLoginThrottleCountsLocksAndResets(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	th := newLoginThrottle(3)
	fail := func(email string) {
		t.Helper()
		if wait, ok := th.begin(email, now); !ok {
			t.Fatalf("%s refused (wait %v) before its lock", email, wait)
		}
		th.end(email, false, false, now)
	}
	for i := 0; i < 2; i++ {
		fail("a@example.com")
	}
	fail("A@Example.com ") // the same account, however it is spelled
	if wait, ok := th.begin("a@example.com", now); ok || wait != time.Minute {
		t.Fatalf("after 3 failures: ok=%v wait=%v, want refused for 1m", ok, wait)
	}
	if _, ok := th.begin("b@example.com", now); !ok {
		t.Fatal("another email is throttled too")
	}
	th.end("b@example.com", false, true, now) // abandoned: counts nothing
	if e := th.entries["b@example.com"]; e != nil {
		t.Fatalf("an abandoned attempt left %+v", e)
	}
	// Each further failure doubles the lock: 2, 4, 8, then 15 minutes.
	for _, want := range []time.Duration{2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute} {
		now = now.Add(th.entries["a@example.com"].lockedUntil.Sub(now))
		fail("a@example.com")
		if wait, ok := th.begin("a@example.com", now); ok || wait != want {
			t.Fatalf("lock = %v (ok=%v), want %v", wait, ok, want)
		}
	}
	// Half-way through the lock, the wait shrinks.
	if wait, _ := th.begin("a@example.com", now.Add(5*time.Minute)); wait != 10*time.Minute {
		t.Fatalf("wait half-way: %v", wait)
	}
	// Once it passes, a success resets the count.
	now = now.Add(15 * time.Minute)
	if _, ok := th.begin("a@example.com", now); !ok {
		t.Fatal("refused after the lock passed")
	}
	th.end("a@example.com", true, false, now)
	if len(th.entries) != 0 {
		t.Fatalf("a success left %v", th.entries)
	}
	fail("a@example.com")
	if _, ok := th.begin("a@example.com", now); !ok {
		t.Fatal("one failure after a reset locks")
	}
}

// TestLoginThrottleConcurrentAttemptsCannotOvershoot: attempts in flight
// count, so a burst of parallel guesses gets no more than the limit.
func TestLoginThrottleConcurrentAttemptsCannotOvershoot(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	th := newLoginThrottle(3)
	let := 0
	for i := 0; i < 50; i++ {
		if _, ok := th.begin("a@example.com", now); ok {
			let++
		}
	}
	if let != 3 {
		t.Fatalf("%d parallel attempts let through, want 3", let)
	}
	for i := 0; i < let; i++ {
		th.end("a@example.com", false, false, now)
	}
	if wait, ok := th.begin("a@example.com", now); ok || wait != time.Minute {
		t.Fatalf("after the burst: ok=%v wait=%v", ok, wait)
	}
	// An attempt whose verdict never comes holds the email back for a
	// minute at most.
	th.begin("b@example.com", now)
	th.begin("b@example.com", now)
	th.begin("b@example.com", now) // 3 in flight, none decided
	if _, ok := th.begin("b@example.com", now.Add(30*time.Second)); ok {
		t.Fatal("a fourth attempt while three are in flight")
	}
	if _, ok := th.begin("b@example.com", now.Add(2*time.Minute)); !ok {
		t.Fatal("attempts that never ended still hold the email back")
	}
}

func TestLoginThrottleOffAndBounded(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	off := newLoginThrottle(0)
	for i := 0; i < 100; i++ {
		if _, ok := off.begin("a@example.com", now); !ok {
			t.Fatal("throttled while off")
		}
		off.end("a@example.com", false, false, now)
	}
	if len(off.entries) != 0 {
		t.Fatal("tracked while off")
	}
	th := newLoginThrottle(2)
	th.begin("locked@example.com", now)
	th.end("locked@example.com", false, false, now)
	th.begin("locked@example.com", now)
	th.end("locked@example.com", false, false, now)
	for i := 0; len(th.entries) < loginTrackMax; i++ {
		th.entries[fmt.Sprintf("spray-%d@example.com", i)] = &loginFailures{failures: 1}
	}
	th.begin("new@example.com", now)
	if len(th.entries) > loginTrackMax*9/10 {
		t.Fatalf("%d entries after making room", len(th.entries))
	}
	if _, ok := th.begin("locked@example.com", now); ok {
		t.Fatal("making room forgot a locked email")
	}
}
