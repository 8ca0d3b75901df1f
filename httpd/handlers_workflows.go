package httpd

import (
	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

type workflowBody struct {
	Name         *string  `json:"name"`
	Description  *string  `json:"description"`
	RunnerLabels []string `json:"runnerLabels"`
}

// createWorkflow creates a workflow (ADMIN, DEVELOPER).
func (s *Server) createWorkflow(ctx *fasthttp.RequestCtx, r *request) error {
	var b workflowBody
	if err := decodeJSON(ctx, &b); err != nil {
		return err
	}
	if err := requireString("name", b.Name); err != nil {
		return err
	}
	cmd := &messages.CreateWorkflow{Name: *b.Name, RunnerLabels: b.RunnerLabels, Origin: r.origin()}
	if b.Description != nil {
		if err := messages.CheckDescription("description", *b.Description); err != nil {
			return err
		}
		cmd.Description = *b.Description
	}
	return answerWrapped(s, ctx, fasthttp.StatusCreated, "workflow", cmd)
}

// listWorkflows pages the workflows newest first.
func (s *Server) listWorkflows(ctx *fasthttp.RequestCtx, _ *request) error {
	return writePage(ctx, "workflows", s.store.ListWorkflows)
}

// getWorkflow answers a workflow with its versions, triggers and execution count.
func (s *Server) getWorkflow(ctx *fasthttp.RequestCtx, _ *request) error {
	d, err := s.store.WorkflowDetail(pathParam(ctx, "id"))
	if err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"workflow": d})
	return nil
}

// updateWorkflow changes a workflow's name and/or description (PUT and PATCH).
func (s *Server) updateWorkflow(ctx *fasthttp.RequestCtx, r *request) error {
	var b workflowBody
	if err := decodeJSON(ctx, &b); err != nil {
		return err
	}
	if b.Name == nil && b.Description == nil && b.RunnerLabels == nil {
		return messages.Invalid("give at least one of name, description, runnerLabels")
	}
	if b.Name != nil {
		if err := requireString("name", b.Name); err != nil {
			return err
		}
	}
	if b.Description != nil {
		if err := messages.CheckDescription("description", *b.Description); err != nil {
			return err
		}
	}
	return answerWrapped(s, ctx, fasthttp.StatusOK, "workflow", &messages.UpdateWorkflow{
		ID: pathParam(ctx, "id"), Name: b.Name, Description: b.Description, RunnerLabels: b.RunnerLabels, Origin: r.origin(),
	})
}

// deleteWorkflow removes a workflow with its versions and triggers (ADMIN).
func (s *Server) deleteWorkflow(ctx *fasthttp.RequestCtx, r *request) error {
	return answerSuccess(s, ctx, &messages.DeleteWorkflow{ID: pathParam(ctx, "id"), Origin: r.origin()})
}

type draftBody struct {
	GraphJSON *string `json:"graphJson"`
	Metadata  *string `json:"metadata"`
}

// saveDraft saves a new DRAFT version of a workflow's graph.
func (s *Server) saveDraft(ctx *fasthttp.RequestCtx, r *request) error {
	var b draftBody
	if err := decodeJSON(ctx, &b); err != nil {
		return err
	}
	if b.GraphJSON == nil {
		return messages.Invalid("graphJson is required (the JSON text of the graph)")
	}
	if err := messages.ValidateGraph(*b.GraphJSON); err != nil {
		return err
	}
	cmd := &messages.SaveDraft{WorkflowID: pathParam(ctx, "id"), GraphJSON: *b.GraphJSON, Origin: r.origin()}
	if b.Metadata != nil {
		cmd.Metadata = *b.Metadata
	}
	return answerWrapped(s, ctx, fasthttp.StatusCreated, "version", cmd)
}

// publishWorkflow publishes the latest version, which must be a DRAFT.
func (s *Server) publishWorkflow(ctx *fasthttp.RequestCtx, r *request) error {
	return answerWrapped(s, ctx, fasthttp.StatusOK, "version",
		&messages.PublishLatest{WorkflowID: pathParam(ctx, "id"), Origin: r.origin()})
}

// listVersions answers every version of a workflow, newest first.
func (s *Server) listVersions(ctx *fasthttp.RequestCtx, _ *request) error {
	vs, err := s.store.ListVersions(pathParam(ctx, "id"))
	if err != nil {
		return err
	}
	if vs == nil {
		vs = []*messages.Version{}
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"versions": vs})
	return nil
}

// latestVersion answers a workflow's latest version (404 when none).
func (s *Server) latestVersion(ctx *fasthttp.RequestCtx, _ *request) error {
	v, err := s.store.LatestVersion(pathParam(ctx, "id"))
	if err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"version": v})
	return nil
}
