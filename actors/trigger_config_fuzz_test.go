package actors

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/exekra/orchestrator/messages"
)

// FuzzTriggerConfig feeds arbitrary config text (and cron expressions and
// zones inside a well-formed config) to the trigger config parser: it never
// panics, refuses only with a VALIDATION_ERROR, and an accepted schedule
// has a next activation in the future while an accepted webhook config
// never shows its secret in the public config text.
func FuzzTriggerConfig(f *testing.F) {
	for _, s := range []string{
		`{"cron":"*/5 * * * *"}`, `{"cron":"@hourly","timezone":"Europe/Paris"}`, `{"cron":"@every 1s"}`,
		`{"cron":"0 0 30 2 *"}`, `{"cron":"61 * * * *"}`, `{"cron":"* * * *"}`, `{"cron":"TZ=UTC * * * * *"}`,
		`{"cron":"CRON_TZ=Asia/Tokyo 0 9 * * *"}`, `{"cron":"0 9 * * MON-FRI","timezone":"Local"}`,
		`{"cron":"1-0 * * * *"}`, `{"cron":"*/0 * * * *"}`, `{"cron":"@every -1s"}`, `{"cron":"@every 0s"}`,
		`{"cron":"@yearly","timezone":"../../etc/passwd"}`, `{"cron":5}`, `{"cron":null}`,
		`{"secret":"s3cret","rateLimit":10}`, `{"secret":null}`, `{"secret":"","rateLimit":0}`,
		`{"rateLimit":-1}`, `{"rateLimit":1.5}`, `{"rateLimit":1e300}`, `{"rateLimit":"10"}`,
		`{"priority":"high"}`, `{"priority":"URGENT"}`, `{"priority":1}`, ``, `null`, `[]`, `"{}"`, `{`,
	} {
		f.Add(s, "* * * * *", "UTC")
	}
	f.Add(`{}`, "@every 1h30m", "America/New_York")
	f.Add(`{}`, "TZ=", "")
	f.Add(`{}`, "0 0 29 2 *", "Pacific/Apia")
	f.Add(`{}`, "59 23 31 12 SUN", "Etc/GMT+12")
	now := time.Now()
	f.Fuzz(func(t *testing.T, text, spec, zone string) {
		// The config as sent, and a well-formed one around the fuzzed cron and zone.
		built, _ := json.Marshal(map[string]string{"cron": spec, "timezone": zone})
		for _, in := range []struct {
			typ  messages.TriggerType
			text string
		}{
			{messages.TriggerSchedule, text},
			{messages.TriggerWebhook, text},
			{messages.TriggerSchedule, string(built)},
		} {
			set, err := parseTriggerConfig(in.typ, in.text, "old-secret")
			if err != nil {
				var e *messages.Error
				if !errors.As(err, &e) || e.Code != messages.CodeValidation || e.Message == "" {
					t.Fatalf("parseTriggerConfig(%s, %q) = %#v, want a VALIDATION_ERROR", in.typ, in.text, err)
				}
				continue
			}
			switch in.typ {
			case messages.TriggerSchedule:
				if set.schedule == nil || set.loc == nil {
					t.Fatalf("accepted schedule %q without a schedule", in.text)
				}
				if next := set.next(now); !next.After(now) {
					t.Fatalf("accepted schedule %q whose next activation %v is not after %v", in.text, next, now)
				}
			case messages.TriggerWebhook:
				if set.rateLimit < 0 {
					t.Fatalf("accepted webhook %q with rateLimit %d", in.text, set.rateLimit)
				}
				if strings.Contains(set.public, `"secret"`) {
					t.Fatalf("webhook config %q keeps its secret in the public text %q", in.text, set.public)
				}
			}
			if set.priority.Rank() < 0 {
				t.Fatalf("accepted %q with priority %q", in.text, set.priority)
			}
		}
	})
}
