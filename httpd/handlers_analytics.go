package httpd

import (
	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// processPerformance answers the per-workflow execution figures, read from
// the aggregates kept as executions finish.
func (s *Server) processPerformance(ctx *fasthttp.RequestCtx, _ *request) error {
	from, err := queryFrom(ctx)
	if err != nil {
		return err
	}
	to, err := queryTo(ctx)
	if err != nil {
		return err
	}
	if !from.IsZero() && !to.IsZero() && to < from {
		return messages.Invalid("to must not be before from")
	}
	rows, err := s.store.ProcessPerformance(from, to)
	if err != nil {
		return err
	}
	if rows == nil {
		rows = []messages.WorkflowPerformance{}
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"workflows": rows})
	return nil
}
