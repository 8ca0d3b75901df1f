package httpd

import (
	"bufio"
	_ "embed" // the OpenAPI document is embedded
	"time"

	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// openAPIDocument is the OpenAPI 3.1 description of every endpoint; a test
// checks that it and the route table agree.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPI serves the embedded OpenAPI document.
func (s *Server) openAPI(ctx *fasthttp.RequestCtx, _ *request) error {
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.SetBody(openAPIDocument)
	return nil
}

// backupFileName is the download name of a backup taken at t.
func backupFileName(t time.Time) string {
	return "exekra-" + t.UTC().Format("20060102T150405Z") + ".db"
}

// backup streams a consistent hot copy of the database. The copy comes from
// one bbolt read transaction, so writers go on while it streams; the
// response is written as it is produced, never held in memory whole. An
// error after the first byte cannot change the status any more: it is
// logged, and the truncated file is refused by `exekra restore`.
func (s *Server) backup(ctx *fasthttp.RequestCtx, r *request) error {
	if err := s.store.Ping(); err != nil {
		return err
	}
	name := backupFileName(s.core.Now())
	// Who took a copy of everything is audited, durably, before the copy starts.
	entry := s.core.AuditEntry(r.origin(), messages.AuditBackupDownloaded, "system", "", name)
	if _, err := messages.Ask(s.core, &messages.RecordAudit{Entry: *entry}); err != nil {
		return err
	}
	reqID, subject := requestID(ctx), r.origin().ActorID
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/octet-stream")
	ctx.Response.Header.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		start := time.Now()
		n, err := s.store.WriteBackup(w)
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			s.log.Error("backup stream failed", "requestId", reqID, "userId", subject, "bytes", n, "err", err)
			return
		}
		s.log.Info("backup streamed", "requestId", reqID, "userId", subject, "bytes", n, "file", name,
			"durationMs", time.Since(start).Milliseconds())
	})
	return nil
}
