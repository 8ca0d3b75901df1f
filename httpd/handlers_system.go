package httpd

import (
	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// health answers {"status": "ok", "timestamp"}; 503 when storage is unusable.
func (s *Server) health(ctx *fasthttp.RequestCtx, _ *request) error {
	now := messages.TimeOf(s.core.Now())
	if err := s.store.Ping(); err != nil {
		s.log.Error("health check failed", "err", err)
		writeJSON(ctx, fasthttp.StatusServiceUnavailable, map[string]any{
			"status": "unavailable", "timestamp": now, "version": s.cfg.Version,
			"error": "storage is not usable", "code": messages.CodeUnavailable,
		})
		return nil
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"status": "ok", "timestamp": now, "version": s.cfg.Version,
		"quarantined": s.quarantined()})
	return nil
}

// status answers the system state and the license's standing (null while
// no license is stored).
func (s *Server) status(ctx *fasthttp.RequestCtx, _ *request) error {
	state := s.core.State()
	var license any
	if state != messages.StateUnactivated {
		license = s.core.LicenseState()
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"state": state, "license": license})
	return nil
}

type licenseBody struct {
	License *string `json:"license"`
}

func decodeLicense(ctx *fasthttp.RequestCtx) (string, error) {
	var b licenseBody
	if err := decodeJSON(ctx, &b); err != nil {
		return "", err
	}
	if err := requireString("license", b.License); err != nil {
		return "", err
	}
	return *b.License, nil
}

// activateLicense stores the first license (UNACTIVATED only).
func (s *Server) activateLicense(ctx *fasthttp.RequestCtx, r *request) error {
	if s.core.State() != messages.StateUnactivated {
		return messages.Errorf(messages.CodeConflict, "a license is already activated")
	}
	text, err := decodeLicense(ctx)
	if err != nil {
		return err
	}
	return answer(s, ctx, fasthttp.StatusOK, &messages.ActivateLicense{Text: text, Origin: r.origin()})
}

// licenseStatus answers the license status computed now.
func (s *Server) licenseStatus(ctx *fasthttp.RequestCtx, _ *request) error {
	writeJSON(ctx, fasthttp.StatusOK, s.core.LicenseStatus())
	return nil
}

// validateLicense re-verifies the license now.
func (s *Server) validateLicense(ctx *fasthttp.RequestCtx, r *request) error {
	return answer(s, ctx, fasthttp.StatusOK, &messages.ValidateLicense{Origin: r.origin()})
}

// replaceLicense installs a renewal for the same licensee.
func (s *Server) replaceLicense(ctx *fasthttp.RequestCtx, r *request) error {
	text, err := decodeLicense(ctx)
	if err != nil {
		return err
	}
	return answer(s, ctx, fasthttp.StatusOK, &messages.ReplaceLicense{Text: text, Origin: r.origin()})
}

// answer asks the owner actor and writes its reply as JSON with status.
func answer[R any](s *Server, ctx *fasthttp.RequestCtx, status int, cmd messages.Command[R]) error {
	res, err := messages.Ask(s.core, cmd)
	if err != nil {
		return err
	}
	writeJSON(ctx, status, res)
	return nil
}

// answerWrapped asks the owner actor and writes {kind: reply}.
func answerWrapped[R any](s *Server, ctx *fasthttp.RequestCtx, status int, kind string, cmd messages.Command[R]) error {
	res, err := messages.Ask(s.core, cmd)
	if err != nil {
		return err
	}
	writeJSON(ctx, status, map[string]any{kind: res})
	return nil
}

// answerSuccess asks the owner actor and writes {"success": true}.
func answerSuccess[R any](s *Server, ctx *fasthttp.RequestCtx, cmd messages.Command[R]) error {
	if _, err := messages.Ask(s.core, cmd); err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true})
	return nil
}
