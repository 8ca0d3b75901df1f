package httpd

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// BenchmarkTokenVerify measures the token check of every authenticated
// request: the first sight of a token (HMAC-SHA256 over the JWT) and the
// cached path the hot runner endpoints take afterwards.
func BenchmarkTokenVerify(b *testing.B) {
	now := time.Now()
	tk := newTokens([]byte("bench-secret-0123456789abcdef0123"), func() time.Time { return now })
	text, _, err := tk.issue(kindRunner, "runner-1", 1, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("first", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			tk.mu.Lock()
			delete(tk.cache, text)
			tk.mu.Unlock()
			if _, err := tk.verify(text); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := tk.verify(text); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkListJSON measures encoding one list page of 50 executions (the
// list form: no logs, no input) into a response, as GET /api/executions does.
func BenchmarkListJSON(b *testing.B) {
	now := time.Now()
	items := make([]*messages.Execution, 50)
	for i := range items {
		runner, user := messages.NewID(now), messages.NewID(now)
		items[i] = &messages.Execution{
			ID: messages.NewID(now), WorkflowID: "wf", Workflow: messages.WorkflowRef{ID: "wf", Name: "Invoice Processing"},
			VersionID: "v1", RunnerID: &runner, TriggeredBy: &user, Status: messages.ExecCompleted, Priority: messages.PriorityNormal,
			Attempt: 1, CreatedAt: messages.TimeOf(now), StartedAt: messages.TimeOf(now), CompletedAt: messages.TimeOf(now),
			EnqueuedAt: messages.TimeOf(now), AssignedAt: messages.TimeOf(now), UpdatedAt: messages.TimeOf(now),
		}
	}
	page := messages.Page{Page: 1, Limit: 50}
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx.Response.ResetBody()
		writeJSON(&ctx, fasthttp.StatusOK, listBody("executions", items, page, 123))
	}
	b.SetBytes(int64(len(ctx.Response.Body())))
}
