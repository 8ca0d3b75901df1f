package httpd

import (
	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// assetBody is the body of POST /api/assets and PUT|PATCH /api/assets/:id.
type assetBody struct {
	Name        *string             `json:"name"`
	Type        *messages.AssetType `json:"type"`
	Value       *string             `json:"value"`
	Username    *string             `json:"username"`
	Password    *string             `json:"password"`
	Description *string             `json:"description"`
}

// noStore marks an answer as not to be cached: every asset answer, and
// the poll answer that carries a hand-over.
func noStore(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set("Cache-Control", "no-store")
}

// createAsset creates a TEXT, SECRET or CREDENTIAL asset (ADMIN, DEVELOPER).
func (s *Server) createAsset(ctx *fasthttp.RequestCtx, r *request) error {
	noStore(ctx)
	var b assetBody
	if err := decodeJSON(ctx, &b); err != nil {
		return err
	}
	if err := requireString("name", b.Name); err != nil {
		return err
	}
	if b.Type == nil {
		return messages.Invalid("type is required (TEXT, SECRET or CREDENTIAL)")
	}
	t := *b.Type
	if !messages.ValidAssetType(t) {
		return messages.Invalid("type must be TEXT, SECRET or CREDENTIAL")
	}
	return answerWrapped(s, ctx, fasthttp.StatusCreated, "asset", &messages.CreateAsset{
		Name: *b.Name, Type: t, Value: b.Value, Username: b.Username, Password: b.Password,
		Description: b.Description, Origin: r.origin(),
	})
}

// listAssets pages the assets newest first; never a secret.
func (s *Server) listAssets(ctx *fasthttp.RequestCtx, _ *request) error {
	noStore(ctx)
	return writePage(ctx, "assets", s.store.ListAssets)
}

// getAsset answers one asset; never a secret.
func (s *Server) getAsset(ctx *fasthttp.RequestCtx, _ *request) error {
	noStore(ctx)
	a, err := s.store.GetAsset(pathParam(ctx, "id"))
	if err != nil {
		return err
	}
	if a == nil {
		return messages.NotFound("asset")
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"asset": a})
	return nil
}

// updateAsset changes an asset (PUT and PATCH alike: the fields given).
func (s *Server) updateAsset(ctx *fasthttp.RequestCtx, r *request) error {
	noStore(ctx)
	var b assetBody
	if err := decodeJSON(ctx, &b); err != nil {
		return err
	}
	cmd := &messages.UpdateAsset{ID: pathParam(ctx, "id"), Name: b.Name, Value: b.Value, Username: b.Username,
		Password: b.Password, Description: b.Description, Origin: r.origin()}
	if b.Type != nil {
		t := *b.Type
		if !messages.ValidAssetType(t) {
			return messages.Invalid("type must be TEXT, SECRET or CREDENTIAL")
		}
		cmd.Type = &t
	}
	return answerWrapped(s, ctx, fasthttp.StatusOK, "asset", cmd)
}

// deleteAsset removes an asset that no published version uses (ADMIN).
func (s *Server) deleteAsset(ctx *fasthttp.RequestCtx, r *request) error {
	noStore(ctx)
	return answerSuccess(s, ctx, &messages.DeleteAsset{ID: pathParam(ctx, "id"), Origin: r.origin()})
}

// handOver reads what a poll answer hands over with an execution: its
// version's graph and, when the version references assets, their current
// values from the assets owner (which checks that the execution is
// ASSIGNED to this runner and audits the hand-over). bundle is nil when the
// version references none.
func (s *Server) handOver(e *messages.Execution, runnerID, ip string) (graph string, bundle messages.AssetBundle, err error) {
	v, err := s.store.GetVersion(e.VersionID)
	if err != nil || v == nil {
		return "", nil, err
	}
	if len(v.AssetNames) == 0 {
		return v.GraphJSON, nil, nil
	}
	res, err := messages.Ask(s.core, &messages.HandOverAssets{ExecutionID: e.ID, RunnerID: runnerID, IP: ip})
	if err != nil {
		return "", nil, err
	}
	return v.GraphJSON, *res, nil
}
