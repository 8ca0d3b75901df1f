package actors

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

func signTimestamped(secret string, t int64, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(t, 10) + "." + body))
	return "t=" + strconv.FormatInt(t, 10) + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

func signPlain(secret, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func TestVerifyWebhookSignature(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	const secret, body = "s3cret", `{"order":42}`
	ts := now.Unix()
	good := signTimestamped(secret, ts, body)
	for _, tc := range []struct {
		name, header, body string
		require            bool
		ok, replay         bool
	}{
		{"plain", signPlain(secret, body), body, false, true, false},
		{"plain refused when timestamps are required", signPlain(secret, body), body, true, false, false},
		{"timestamped", good, body, false, true, true},
		{"timestamped when required", good, body, true, true, true},
		{"spaces and order", " v1=" + good[len("t=1772355600,v1="):] + ", t=" + strconv.FormatInt(ts, 10), body, true, true, true},
		{"rotation: a second v1 matches", good + ",v1=" + hex.EncodeToString(make([]byte, 32)), body, false, true, true},
		{"4m59s old", signTimestamped(secret, ts-299, body), body, false, true, true},
		{"5m01s old", signTimestamped(secret, ts-301, body), body, false, false, false},
		{"5m01s ahead", signTimestamped(secret, ts+301, body), body, false, false, false},
		{"other body", good, `{"order":43}`, false, false, false},
		{"other secret", signTimestamped("other", ts, body), body, false, false, false},
		{"timestamp changed", "t=" + strconv.FormatInt(ts+1, 10) + good[len("t=1772355600"):], body, false, false, false},
		{"no v1", "t=" + strconv.FormatInt(ts, 10), body, false, false, false},
		{"no t", good[len("t=1772355600,"):], body, false, false, false},
		{"two t", good + ",t=1", body, false, false, false},
		{"negative t", "t=-1,v1=00", body, false, false, false},
		{"short v1", "t=1,v1=00", body, false, false, false},
		{"empty", "", body, false, false, false},
		{"garbage", "hello", body, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := verifyWebhookSignature(tc.header, []byte(tc.body), secret, "trigger-1", tc.require, now)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && messages.ErrorCode(err) != messages.CodeUnauthorized {
				t.Fatalf("code %s, want UNAUTHORIZED", messages.ErrorCode(err))
			}
			if (key != "") != tc.replay {
				t.Fatalf("replay key %q, want one: %v", key, tc.replay)
			}
		})
	}
	// The replay key is stable for one signed request, differs between
	// requests and between triggers, and does not show the signature.
	k1, _ := verifyWebhookSignature(good, []byte(body), secret, "trigger-1", false, now)
	k2, _ := verifyWebhookSignature(good, []byte(body), secret, "trigger-1", false, now.Add(time.Minute))
	k3, _ := verifyWebhookSignature(signTimestamped(secret, ts+1, body), []byte(body), secret, "trigger-1", false, now)
	k4, _ := verifyWebhookSignature(good, []byte(body), secret, "trigger-2", false, now)
	if k1 != k2 || k1 == k3 || k1 == k4 || len(k1) > 200 {
		t.Fatalf("replay keys: %q %q %q %q", k1, k2, k3, k4)
	}
}

func TestParseTriggerConfigRequireTimestamp(t *testing.T) {
	set, err := parseNewTriggerConfig(messages.TriggerWebhook, `{"secret":"s","requireTimestamp":true}`, "")
	if err != nil || !set.requireTimestamp || set.public != `{"requireTimestamp":true}` {
		t.Fatalf("%+v %v", set, err)
	}
	if _, err := parseNewTriggerConfig(messages.TriggerWebhook, `{"requireTimestamp":"yes","secret":"s"}`, ""); messages.ErrorCode(err) != messages.CodeValidation {
		t.Fatalf("non-boolean: %v", err)
	}
	if _, err := parseNewTriggerConfig(messages.TriggerWebhook, `{"requireTimestamp":true}`, ""); messages.ErrorCode(err) != messages.CodeValidation {
		t.Fatalf("without a secret: %v", err)
	}
	if set, err := parseNewTriggerConfig(messages.TriggerWebhook, `{"requireTimestamp":true}`, "old"); err != nil || !set.requireTimestamp {
		t.Fatalf("with the kept secret: %+v %v", set, err)
	}
}

func TestParseTriggerConfigNesting(t *testing.T) {
	deep := `{"secret":"s","x":` + strings.Repeat("[", 129) + strings.Repeat("]", 129) + `}`
	if _, err := parseNewTriggerConfig(messages.TriggerWebhook, deep, ""); messages.ErrorCode(err) != messages.CodeValidation {
		t.Fatalf("new config nested 129 levels: %v", err)
	}
	if _, err := parseTriggerConfig(messages.TriggerWebhook, deep, ""); err != nil {
		t.Fatalf("a stored config still loads: %v", err)
	}
}
