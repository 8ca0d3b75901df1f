package actors

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/exekra/orchestrator/storage"
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

// TestSupervisionLogRedactsTriggerIDs drives the real path: a system started
// with a logger logs a supervision event for a trigger actor.
func TestSupervisionLogRedactsTriggerIDs(t *testing.T) {
	st, err := storage.Open(t.TempDir(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	var buf lockedBuffer
	sys, err := Start(Config{LicenseKey: pub, Logger: slog.New(slog.NewTextHandler(&buf, nil))}, st)
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Stop()
	sys.actors.EventStream.Publish(&actor.SupervisorEvent{
		Child: actor.NewPID("nonhost", "orchestrator/triggers/TRIGGERSECRET"), Reason: "panic", Directive: actor.RestartDirective})
	if out := buf.String(); strings.Contains(out, "TRIGGERSECRET") || !strings.Contains(out, "actor failed") {
		t.Fatalf("log: %s", out)
	}
}

// lockedBuffer is a bytes.Buffer safe for the logger's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
