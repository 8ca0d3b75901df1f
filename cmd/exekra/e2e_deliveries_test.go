package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// receiver is a webhook receiver on 127.0.0.1 that checks every request's
// Standard Webhooks signature against the secrets it is told.
type receiver struct {
	t       testing.TB
	srv     *httptest.Server
	status  atomic.Int32 // answered; 0 = hang until released
	release chan struct{}

	mu      sync.Mutex
	secrets []string
	got     []map[string]any // verified payloads
	sigs    []int            // signatures per request
	bad     []string
}

func newReceiver(t testing.TB, status int) *receiver {
	rc := &receiver{t: t, release: make(chan struct{})}
	rc.status.Store(int32(status))
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	t.Cleanup(func() { close(rc.release) }) // runs first: a hung request ends
	return rc
}

func (rc *receiver) url() string { return rc.srv.URL + "/hook" }

func (rc *receiver) setSecrets(s ...string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.secrets = s
}

// verify checks the webhook-signature header: every signature must match
// one of the secrets, and each secret must have signed.
func verifySignature(id, ts, header string, body []byte, secrets []string) (n int, ok bool) {
	sigs := strings.Fields(header)
	signed := map[string]bool{}
	for _, sig := range sigs {
		match := false
		for _, s := range secrets {
			key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
			if err != nil {
				return 0, false
			}
			mac := hmac.New(sha256.New, key)
			mac.Write([]byte(id + "." + ts + "."))
			mac.Write(body)
			if hmac.Equal([]byte(sig), []byte("v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))) {
				match, signed[s] = true, true
			}
		}
		if !match {
			return 0, false
		}
	}
	return len(sigs), len(signed) == len(secrets)
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
	rc.mu.Lock()
	n, ok := verifySignature(id, ts, r.Header.Get("webhook-signature"), body, rc.secrets)
	var p map[string]any
	if err := json.Unmarshal(body, &p); err != nil || p["id"] != id || p["type"] == nil || p["timestamp"] == nil || p["data"] == nil {
		ok = false
	}
	if ok {
		rc.got = append(rc.got, p)
		rc.sigs = append(rc.sigs, n)
	} else {
		rc.bad = append(rc.bad, r.Header.Get("webhook-signature")+" "+string(body))
	}
	rc.mu.Unlock()
	st := int(rc.status.Load())
	if st == 0 {
		select {
		case <-rc.release:
		case <-r.Context().Done():
		}
		return
	}
	w.WriteHeader(st)
}

// received is how many verified requests of type typ arrived.
func (rc *receiver) received(typ string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		rc.t.Fatalf("a delivery that does not verify: %q", rc.bad)
	}
	n := 0
	for _, p := range rc.got {
		if p["type"] == typ {
			n++
		}
	}
	return n
}

func (h *harness) subscribe(rc *receiver, events ...string) string {
	h.t.Helper()
	r := h.expect(h.admin, "POST", "/api/subscriptions", map[string]any{"url": rc.url(), "events": events}, 201)
	rc.setSecrets(r.str("subscription.secret"))
	return r.str("subscription.id")
}

func (h *harness) deliveries(sub string) []map[string]any {
	h.t.Helper()
	r := h.expect(h.admin, "GET", "/api/subscriptions/"+sub+"/deliveries", nil, 200)
	var out []map[string]any
	for _, d := range r.json["deliveries"].([]any) {
		out = append(out, d.(map[string]any))
	}
	return out
}

func withLoopbackOutbound(c *Config) { c.OutboundAllowLoopback = true }

func TestE2EDeliveriesSignedRetriedGoneAndIsolated(t *testing.T) {
	h := newHarness(t, withLoopbackOutbound)
	good := newReceiver(t, 200)
	flaky := newReceiver(t, 500)
	hung := newReceiver(t, 0)
	gone := newReceiver(t, 410)
	var secrets []string
	subGood := h.subscribe(good, "runner.online", "ping")
	subFlaky := h.subscribe(flaky, "runner.online")
	h.subscribe(hung, "*")
	subGone := h.subscribe(gone, "*")
	for _, rc := range []*receiver{good, flaky, hung, gone} {
		secrets = append(secrets, rc.secrets...)
	}

	h.onlineRunner("deliveries-r1")
	// The good receiver hears it although another one never answers.
	h.rnEventually("runner.online delivered", func() bool { return good.received("runner.online") == 1 })
	h.rnEventually("the hung receiver holds a request", func() bool { return hung.received("runner.online") == 1 })
	// While it hangs (10 s per attempt), a ping to another subscription is answered at once.
	began := time.Now()
	if p := h.expect(h.admin, "POST", "/api/subscriptions/"+subGood+"/test", nil, 200); p.str("delivery.status") != "DELIVERED" ||
		time.Since(began) > 5*time.Second {
		t.Fatalf("ping beside a hung receiver: %s after %v", p.body, time.Since(began))
	}

	// 410 Gone disables its subscription at once, audited.
	h.rnEventually("gone disabled", func() bool {
		return dig(h.expect(h.admin, "GET", "/api/subscriptions/"+subGone, nil, 200).json, "subscription.enabled") == false
	})
	if audit := h.expect(h.admin, "GET", "/api/audit?limit=200", nil, 200); !strings.Contains(string(audit.body), "subscription.disabled.gone") {
		t.Fatal("the 410 is not audited")
	}
	goneDs := h.deliveries(subGone)
	if len(goneDs) != 1 || goneDs[0]["status"] != "FAILED" || goneDs[0]["lastStatusCode"] != float64(410) {
		t.Fatalf("gone deliveries: %v", goneDs)
	}

	// The flaky receiver failed once: PENDING with a next attempt ~5 s on.
	h.rnEventually("a failed attempt", func() bool {
		ds := h.deliveries(subFlaky)
		return len(ds) == 1 && ds[0]["attempts"] == float64(1)
	})
	d := h.deliveries(subFlaky)[0]
	if d["status"] != "PENDING" || d["lastStatusCode"] != float64(500) || d["nextAttemptAt"] == nil || d["type"] != "runner.online" ||
		!strings.HasPrefix(d["eventId"].(string), "evt_") || d["deliveredAt"] != nil {
		t.Fatalf("after one failure: %v", d)
	}
	flaky.status.Store(200)
	h.clock.Advance(6 * time.Second)
	h.rnEventually("the retry delivered", func() bool { return h.deliveries(subFlaky)[0]["status"] == "DELIVERED" })
	if d := h.deliveries(subFlaky)[0]; d["attempts"] != float64(2) || d["deliveredAt"] == nil || flaky.received("runner.online") != 2 {
		t.Fatalf("after the retry: %v", d)
	}

	// Test ping: answered with its delivery.
	ping := h.expect(h.admin, "POST", "/api/subscriptions/"+subGood+"/test", nil, 200)
	if ping.str("delivery.status") != "DELIVERED" || ping.str("delivery.type") != "ping" || good.received("ping") != 2 {
		t.Fatalf("ping: %s", ping.body)
	}
	h.expectError(h.admin, "POST", "/api/subscriptions/nope/test", nil, 404, "NOT_FOUND")
	h.expectError(h.userWithRole("DEVELOPER"), "POST", "/api/subscriptions/"+subGood+"/test", nil, 403, "FORBIDDEN")

	// During a rotation's overlap both secrets sign.
	good.mu.Lock()
	old := good.secrets[0]
	good.mu.Unlock()
	rot := h.expect(h.admin, "POST", "/api/subscriptions/"+subGood+"/rotate-secret", nil, 200)
	good.setSecrets(rot.str("subscription.secret"), old)
	secrets = append(secrets, rot.str("subscription.secret"))
	h.expect(h.admin, "POST", "/api/subscriptions/"+subGood+"/test", nil, 200)
	good.mu.Lock()
	lastSigs := good.sigs[len(good.sigs)-1]
	good.mu.Unlock()
	if good.received("ping") != 3 || lastSigs != 2 {
		t.Fatalf("after rotation: %d pings, %d signatures on the last", good.received("ping"), lastSigs)
	}

	// Retry: a FAILED delivery is attempted again now; a delivered one is not.
	gone.status.Store(204)
	re := h.expect(h.admin, "POST", "/api/subscriptions/"+subGone+"/deliveries/"+goneDs[0]["id"].(string)+"/retry", nil, 200)
	if re.str("delivery.status") != "DELIVERED" || re.num("delivery.attempts") != 2 {
		t.Fatalf("retry: %s", re.body)
	}
	h.expectError(h.admin, "POST", "/api/subscriptions/"+subGone+"/deliveries/"+goneDs[0]["id"].(string)+"/retry", nil, 409, "INVALID_TRANSITION")
	h.expectError(h.admin, "POST", "/api/subscriptions/"+subGone+"/deliveries/nope/retry", nil, 404, "NOT_FOUND")

	// Newest first, paginated.
	list := h.expect(h.admin, "GET", "/api/subscriptions/"+subGood+"/deliveries?limit=1", nil, 200)
	if list.num("pagination.total") != 4 || len(list.json["deliveries"].([]any)) != 1 || dig(list.json, "deliveries") == nil ||
		list.json["deliveries"].([]any)[0].(map[string]any)["type"] != "ping" {
		t.Fatalf("list: %s", list.body)
	}
	h.expectError(h.admin, "GET", "/api/subscriptions/nope/deliveries", nil, 404, "NOT_FOUND")

	// No secret in logs, lists or delivery records.
	var seen strings.Builder
	seen.WriteString(h.logs.String())
	for _, path := range []string{"/api/subscriptions", "/api/audit?limit=200", "/api/subscriptions/" + subGood + "/deliveries",
		"/api/subscriptions/" + subGone + "/deliveries", "/api/subscriptions/" + subFlaky + "/deliveries"} {
		seen.Write(h.expect(h.admin, "GET", path, nil, 200).body)
	}
	for _, s := range secrets {
		if strings.Contains(seen.String(), s) || strings.Contains(seen.String(), strings.TrimPrefix(s, "whsec_")) {
			t.Fatal("a secret is shown after creation")
		}
	}
}

func TestE2EDeliveriesResumeAfterRestart(t *testing.T) {
	h := newHarness(t, withLoopbackOutbound)
	rc := newReceiver(t, 503)
	sub := h.subscribe(rc, "runner.online")
	h.onlineRunner("resume-r1")
	h.rnEventually("a failed attempt", func() bool {
		ds := h.deliveries(sub)
		return len(ds) == 1 && ds[0]["attempts"] == float64(1)
	})
	h.restart()
	h.onlineRunner("resume-r2")
	rc.status.Store(200)
	h.clock.Advance(6 * time.Second)
	// Both delivered, in order, the pending one first.
	h.rnEventually("both delivered", func() bool {
		ds := h.deliveries(sub)
		return len(ds) == 2 && ds[0]["status"] == "DELIVERED" && ds[1]["status"] == "DELIVERED"
	})
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var names []string
	for _, p := range rc.got {
		names = append(names, dig(p, "data.name").(string))
	}
	if len(names) != 3 || names[0] != "resume-r1" || names[1] != "resume-r1" || names[2] != "resume-r2" {
		t.Fatalf("received in order: %v", names)
	}
}

func TestE2EDeliveriesGiveUpAndDisableAfterThreeDays(t *testing.T) {
	h := newHarness(t, withLoopbackOutbound)
	rc := newReceiver(t, 500)
	sub := h.subscribe(rc, "runner.online")
	h.onlineRunner("giveup-r1")
	h.rnEventually("a failed attempt", func() bool {
		ds := h.deliveries(sub)
		return len(ds) == 1 && ds[0]["attempts"] == float64(1)
	})
	// 24 h on: the next attempt fails and the delivery is given up.
	h.clock.Advance(25 * time.Hour)
	h.rnEventually("given up", func() bool { return h.deliveries(sub)[0]["status"] == "FAILED" })
	if d := h.deliveries(sub)[0]; d["attempts"] != float64(2) || d["nextAttemptAt"] != nil {
		t.Fatalf("given up: %v", d)
	}
	// The queue moved on; the subscription is still on.
	h.onlineRunner("giveup-r2")
	h.rnEventually("the next delivery attempted", func() bool {
		ds := h.deliveries(sub)
		return len(ds) == 2 && ds[0]["attempts"] == float64(1)
	})
	if dig(h.expect(h.admin, "GET", "/api/subscriptions/"+sub, nil, 200).json, "subscription.enabled") != true {
		t.Fatal("disabled before 3 days of failures")
	}
	// Three days of failures: disabled, audited.
	h.clock.Advance(48 * time.Hour)
	h.rnEventually("disabled after 3 days", func() bool {
		return dig(h.expect(h.admin, "GET", "/api/subscriptions/"+sub, nil, 200).json, "subscription.enabled") == false
	})
	if audit := h.expect(h.admin, "GET", "/api/audit?limit=200", nil, 200); !strings.Contains(string(audit.body), "subscription.disabled.failing") {
		t.Fatal("the disabling is not audited")
	}
	if d := h.deliveries(sub)[0]; d["status"] != "FAILED" || d["attempts"] != float64(2) {
		t.Fatalf("last delivery: %v", d)
	}
	// /metrics: two attempts gave up (24 h, then 3 days), two were retried;
	// nothing waits once the subscription is off.
	m := h.scrape()
	if m[`exekra_event_deliveries_total{outcome="gave_up"}`] != 2 || m[`exekra_event_deliveries_total{outcome="failed_attempt"}`] != 2 ||
		m[`exekra_event_deliveries_total{outcome="delivered"}`] != 0 || m[`exekra_event_outbox_pending`] != 0 || m[`exekra_event_outbox_oldest_pending_seconds`] != 0 {
		t.Fatalf("metrics after giving up: gave_up %v failed_attempt %v delivered %v pending %v oldest %v",
			m[`exekra_event_deliveries_total{outcome="gave_up"}`], m[`exekra_event_deliveries_total{outcome="failed_attempt"}`],
			m[`exekra_event_deliveries_total{outcome="delivered"}`], m[`exekra_event_outbox_pending`], m[`exekra_event_outbox_oldest_pending_seconds`])
	}
}
