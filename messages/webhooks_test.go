package messages

import (
	"strings"
	"testing"
)

func TestSignWebhookStandardVector(t *testing.T) {
	// The Standard Webhooks specification's example.
	got := SignWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
		[]byte(`{"test": 2432232314}`))
	if got != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Fatalf("signature %s", got)
	}
	h := WebhookSignatureHeader("id", 1, []byte("b"), NewSubscriptionSecret(), "", NewSubscriptionSecret())
	if parts := strings.Split(h, " "); len(parts) != 2 || !strings.HasPrefix(parts[0], "v1,") || parts[0] == parts[1] {
		t.Fatalf("header %q", h)
	}
	if OutboundEventID(42, "execution.failed") != "evt_42_execution_failed" {
		t.Fatal(OutboundEventID(42, "execution.failed"))
	}
}
