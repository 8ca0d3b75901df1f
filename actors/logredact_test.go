package actors

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
)

func TestRedactHandlerHidesTriggerIDs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(redactHandler{slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})}).
		With("parent", "orchestrator/triggers/SECRETPARENT")
	const id = "01JX5TRIGGERID0000000000SECRET"
	pid := actor.NewPID("nonhost", "orchestrator/triggers/"+id)
	log.Warn("actor failed orchestrator/triggers/"+id+"/child", "actor", "orchestrator/triggers/"+id,
		"pid", pid, "err", errors.New("boom in triggers/"+id), slog.Group("g", "inner", "triggers/"+id),
		"executions", "orchestrator/executions/01JXEXEC")
	out := buf.String()
	if strings.Contains(out, "SECRET") {
		t.Fatalf("a trigger id reached the log: %s", out)
	}
	if !strings.Contains(out, "triggers/<redacted>") || !strings.Contains(out, "executions/01JXEXEC") {
		t.Fatalf("unexpected redaction: %s", out)
	}
}

// TestSupervisionLogRedactsTriggerIDs drives the real path: a supervision
// event for a trigger actor is logged by the system's subscriber.
func TestSupervisionLogRedactsTriggerIDs(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(redactHandler{slog.NewTextHandler(&buf, nil)})
	s := &System{actors: actor.NewActorSystem()}
	s.subscribeEvents(logger)
	s.actors.EventStream.Publish(&actor.SupervisorEvent{
		Child: actor.NewPID("nonhost", "orchestrator/triggers/TRIGGERSECRET"), Reason: "panic", Directive: actor.RestartDirective})
	if out := buf.String(); strings.Contains(out, "TRIGGERSECRET") || !strings.Contains(out, "actor failed") {
		t.Fatalf("log: %s", out)
	}
}
