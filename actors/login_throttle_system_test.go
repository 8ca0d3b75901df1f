package actors

import (
	"fmt"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

// TestLoginThrottleAcrossAddresses drives the accounts actor as the login
// handler does, with the failures spread over several source addresses:
// the count is per email, not per address; the refusals are audited with
// the address that tried; a success after the lock resets the count.
func TestLoginThrottleAcrossAddresses(t *testing.T) {
	e := startTestEnv(t, testDate, withConfig(func(c *Config) { c.LoginMaxFailures = 4 }))
	if _, err := e.ask(&messages.ActivateLicense{Text: e.license("a@example.com", 48*time.Hour, 0, messages.LicenseLimits{})}); err != nil {
		t.Fatal(err)
	}
	res, _ := e.ask(&messages.Bootstrap{Email: "a@example.com", PasswordHash: "h"})
	u := res.(*messages.User)
	attempt := func(email, ip string, success bool) (*messages.LoginThrottled, error) {
		t.Helper()
		o := messages.Origin{ActorType: messages.ActorAnonymous, IP: ip}
		gate, err := e.ask(&messages.BeginLogin{Email: email, Origin: o})
		if err != nil {
			return nil, err
		}
		if th, ok := gate.(*messages.LoginThrottled); ok {
			return th, nil
		}
		id := ""
		if email == u.Email {
			id = u.ID
		}
		_, err = e.ask(&messages.RecordLogin{UserID: id, Email: email, Success: success, Origin: o})
		return nil, err
	}
	for _, email := range []string{u.Email, "nobody@example.com"} {
		for i := 0; i < 4; i++ {
			if th, err := attempt(email, fmt.Sprintf("10.0.0.%d", i+1), false); th != nil || err != nil {
				t.Fatalf("%s failure %d refused: %+v %v", email, i+1, th, err)
			}
		}
		// The right password from a fifth address is refused too.
		th, err := attempt(email, "10.0.0.99", true)
		if err != nil || th == nil || th.RetryAfter != time.Minute {
			t.Fatalf("%s after 4 failures: %+v %v, want throttled for 1m", email, th, err)
		}
	}
	entries, _, err := e.store.ListAudit(messages.Page{Page: 1, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	throttled := map[string]string{}
	failedIPs := map[string]bool{}
	for _, a := range entries {
		switch a.Action {
		case messages.AuditLoginThrottled:
			throttled[a.Details] = a.IP
		case messages.AuditLoginFailed:
			failedIPs[a.IP] = true
		}
	}
	if len(throttled) != 2 || len(failedIPs) != 4 {
		t.Fatalf("audit: throttled %v, failures from %v", throttled, failedIPs)
	}
	for d, ip := range throttled {
		if ip != "10.0.0.99" {
			t.Fatalf("throttled entry %q from %q", d, ip)
		}
	}
	// After the minute, the right password logs in and resets the count.
	e.clock.Advance(time.Minute)
	if th, err := attempt(u.Email, "10.0.0.5", true); th != nil || err != nil {
		t.Fatalf("after the lock: %+v %v", th, err)
	}
	for i := 0; i < 3; i++ {
		if th, _ := attempt(u.Email, "10.0.0.6", false); th != nil {
			t.Fatalf("the count was not reset: refused at failure %d", i+1)
		}
	}
}
