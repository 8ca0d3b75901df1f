package actors

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
)

// Trigger actors are named after their trigger's id, and a trigger id is
// the credential of its webhook URL (POST /api/triggers/webhook/:id). Actor
// names reach the logs in supervision events ("actor failed", at warn),
// dead letters and protoactor's own records, so every record the actor
// system logs goes through redactHandler, which replaces what follows
// "triggers/" in messages and attribute values.

var triggerSegment = regexp.MustCompile(`(triggers/)[^/\s"',}\]]+`)

// redactTriggerIDs hides the trigger ids in s.
func redactTriggerIDs(s string) string {
	return triggerSegment.ReplaceAllString(s, "${1}<redacted>")
}

// redactHandler is a slog.Handler that redacts trigger ids.
type redactHandler struct{ h slog.Handler }

func (r redactHandler) Enabled(ctx context.Context, l slog.Level) bool { return r.h.Enabled(ctx, l) }

func (r redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, redactTriggerIDs(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return r.h.Handle(ctx, out)
}

func (r redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redactAttr(a)
	}
	return redactHandler{r.h.WithAttrs(red)}
}

func (r redactHandler) WithGroup(name string) slog.Handler { return redactHandler{r.h.WithGroup(name)} }

// redactAttr redacts a string, or anything printed as one (a PID, an
// error), inside a.
func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, redactTriggerIDs(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]any, len(g))
		for i, x := range g {
			red[i] = redactAttr(x)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		s := fmt.Sprint(v.Any())
		if r := redactTriggerIDs(s); r != s {
			return slog.String(a.Key, r)
		}
	}
	return a
}
