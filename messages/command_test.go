package messages

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// askerFunc answers every command with what its function returns.
type askerFunc func(cmd any) (any, error)

func (f askerFunc) Ask(cmd any) (any, error)                         { return f(cmd) }
func (f askerFunc) AskTimeout(cmd any, _ time.Duration) (any, error) { return f(cmd) }

func TestAskTypesTheReply(t *testing.T) {
	want := &Workflow{ID: "w"}
	w, err := Ask(askerFunc(func(any) (any, error) { return want, nil }), &CreateWorkflow{})
	if err != nil || w != want {
		t.Fatalf("typed reply: %v %v", w, err)
	}
	// A variant of a reply union comes back as the union.
	gate, err := AskTimeout(askerFunc(func(any) (any, error) { return &LoginThrottled{RetryAfter: time.Second}, nil }),
		&BeginLogin{}, time.Second)
	if th, ok := gate.(*LoginThrottled); err != nil || !ok || th.RetryAfter != time.Second {
		t.Fatalf("union reply: %v %v", gate, err)
	}
	// An error answer is the error.
	boom := NotFound("workflow")
	if w, err := Ask(askerFunc(func(any) (any, error) { return nil, boom }), &UpdateWorkflow{}); w != nil || !errors.Is(err, boom) {
		t.Fatalf("error reply: %v %v", w, err)
	}
	// An answer of another type than declared is an error, never a panic.
	for _, res := range []any{&Version{}, nil, &Ack{}} {
		w, err := Ask(askerFunc(func(any) (any, error) { return res, nil }), &CreateWorkflow{})
		if w != nil || err == nil || !strings.Contains(err.Error(), "*messages.CreateWorkflow answered") {
			t.Fatalf("drifted reply %T: %v %v", res, w, err)
		}
	}
	if _, err := Ask(askerFunc(func(any) (any, error) { return &Execution{}, nil }), &BeginLogin{}); err == nil {
		t.Fatal("a type outside the union was accepted")
	}
}
