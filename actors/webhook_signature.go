package actors

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/exekra/orchestrator/messages"
)

// Webhook signatures (docs/api.md, "Signing webhooks"). A trigger with a
// secret takes X-Exekra-Signature in one of two forms:
//
//   - sha256=<hex HMAC-SHA256 of the raw body>, the plain form, refused
//     when the config sets "requireTimestamp": true;
//   - t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">, the
//     timestamped form: t must be within webhookWindow of the server's
//     clock, and the same signature seen again answers the execution it
//     created the first time (a replay creates nothing, a sender's retry
//     is safe).

// webhookWindow is how far a signature's timestamp may be from the clock.
const webhookWindow = 5 * time.Minute

// Signature errors (401).
var (
	errSignatureMissing = messages.Errorf(messages.CodeUnauthorized,
		"X-Exekra-Signature is required: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\"> or sha256=<hex HMAC-SHA256 of the body>")
	errSignatureMismatch = messages.Errorf(messages.CodeUnauthorized, "the signature does not match the body")
	errTimestampRequired = messages.Errorf(messages.CodeUnauthorized,
		"this webhook requires a timestamped signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">")
	errTimestampWindow = messages.Errorf(messages.CodeUnauthorized,
		"the signature's timestamp is more than 5 minutes from the server's clock")
)

// verifyWebhookSignature checks header against the body with secret, at
// now. For a timestamped signature it returns the replay key: the
// execution's dedupe key, derived from the trigger and the signature (so a
// replay of the signed request finds the first execution).
func verifyWebhookSignature(header string, body []byte, secret, triggerID string, requireTimestamp bool, now time.Time) (replayKey string, err error) {
	header = strings.TrimSpace(header)
	if plain, ok := strings.CutPrefix(header, "sha256="); ok {
		if requireTimestamp {
			return "", errTimestampRequired
		}
		got, err := hex.DecodeString(plain)
		if err != nil {
			return "", errSignatureMissing
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		if !hmac.Equal(got, mac.Sum(nil)) {
			return "", errSignatureMismatch
		}
		return "", nil
	}
	t, sigs, ok := parseTimestamped(header)
	if !ok {
		return "", errSignatureMissing
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(t))
	mac.Write([]byte{'.'})
	mac.Write(body)
	want := mac.Sum(nil)
	var matched []byte
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			matched = s
		}
	}
	if matched == nil {
		return "", errSignatureMismatch
	}
	// The window is checked after the signature, so a forged header learns
	// nothing about the clock.
	secs, _ := strconv.ParseInt(t, 10, 64)
	if d := now.Sub(time.Unix(secs, 0)); d > webhookWindow || d < -webhookWindow {
		return "", errTimestampWindow
	}
	sum := sha256.Sum256([]byte(triggerID + "." + hex.EncodeToString(matched)))
	return "webhook-signature:" + hex.EncodeToString(sum[:16]), nil
}

// parseTimestamped reads "t=<digits>,v1=<hex>[,v1=<hex>…]" (spaces after
// commas allowed, members in any order, unknown members ignored): the
// timestamp text and the decoded signatures.
func parseTimestamped(header string) (t string, sigs [][]byte, ok bool) {
	for _, part := range strings.Split(header, ",") {
		k, v, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found {
			return "", nil, false
		}
		switch k {
		case "t":
			if t != "" || v == "" || len(v) > 12 || strings.Trim(v, "0123456789") != "" {
				return "", nil, false
			}
			t = v
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				return "", nil, false
			}
			sigs = append(sigs, b)
		}
	}
	return t, sigs, t != "" && len(sigs) > 0
}
