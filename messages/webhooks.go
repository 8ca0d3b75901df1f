package messages

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
)

// OutboundPayload is the body of an outbound event delivery (docs/api.md,
// "Event subscriptions"): {"id", "type", "timestamp", "data"}.
type OutboundPayload struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Timestamp Time            `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// OutboundEventID is the id of the delivery of event seq as type typ: the
// `webhook-id` receivers dedupe by (one event delivered as two types has
// two ids).
func OutboundEventID(seq uint64, typ string) string {
	return "evt_" + strconv.FormatUint(seq, 10) + "_" + strings.ReplaceAll(typ, ".", "_")
}

// webhookSecretKey is the key bytes of a subscription secret: the base64
// after "whsec_" (Standard Webhooks), or the text itself when it is not one.
func webhookSecretKey(secret string) []byte {
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		if key, err := base64.StdEncoding.DecodeString(rest); err == nil {
			return key
		}
	}
	return []byte(secret)
}

// SignWebhook is one Standard Webhooks signature: "v1," and the base64
// HMAC-SHA256, keyed with the secret's bytes, of "<id>.<timestamp>.<body>".
func SignWebhook(secret, id string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, webhookSecretKey(secret))
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, timestamp, 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// WebhookSignatureHeader is the `webhook-signature` value: the signature
// with each secret given (the current one, then a rotated-out one that
// still signs), separated by spaces.
func WebhookSignatureHeader(id string, timestamp int64, body []byte, secrets ...string) string {
	var sigs []string
	for _, s := range secrets {
		if s != "" {
			sigs = append(sigs, SignWebhook(s, id, timestamp, body))
		}
	}
	return strings.Join(sigs, " ")
}
