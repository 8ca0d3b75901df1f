package httpd

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// subscriptionBody is the body of POST /api/subscriptions and PATCH
// /api/subscriptions/:id.
type subscriptionBody struct {
	URL         *string   `json:"url"`
	Events      *[]string `json:"events"`
	Description *string   `json:"description"`
	Enabled     *bool     `json:"enabled"`
}

// createSubscription adds an outbound event subscription (ADMIN); the
// answer shows its secret, this once.
func (s *Server) createSubscription(ctx *fasthttp.RequestCtx, r *request) error {
	noStore(ctx)
	var b subscriptionBody
	if err := decodeJSON(ctx, &b); err != nil {
		return err
	}
	if err := requireString("url", b.URL); err != nil {
		return err
	}
	if b.Events == nil {
		return messages.Invalid("events is required (event types, or [\"*\"])")
	}
	cmd := &messages.CreateSubscription{URL: *b.URL, Events: *b.Events, Enabled: b.Enabled, Origin: r.origin()}
	if b.Description != nil {
		cmd.Description = *b.Description
	}
	return answerWrapped(s, ctx, fasthttp.StatusCreated, "subscription", cmd)
}

// listSubscriptions pages the subscriptions newest first (ADMIN); never a secret.
func (s *Server) listSubscriptions(ctx *fasthttp.RequestCtx, _ *request) error {
	return writePage(ctx, "subscriptions", s.store.ListSubscriptions)
}

// getSubscription answers one subscription (ADMIN); never its secret.
func (s *Server) getSubscription(ctx *fasthttp.RequestCtx, _ *request) error {
	sub, err := s.store.GetSubscription(pathParam(ctx, "id"))
	if err != nil {
		return err
	}
	if sub == nil {
		return messages.NotFound("subscription")
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"subscription": sub})
	return nil
}

// updateSubscription changes url, events, description and/or enabled (ADMIN).
func (s *Server) updateSubscription(ctx *fasthttp.RequestCtx, r *request) error {
	var b subscriptionBody
	if err := decodeJSON(ctx, &b); err != nil {
		return err
	}
	ch := messages.SubscriptionChange{URL: b.URL, Description: b.Description, Enabled: b.Enabled}
	if b.Events != nil {
		ch.Events = append([]string{}, *b.Events...)
	}
	return answerWrapped(s, ctx, fasthttp.StatusOK, "subscription",
		&messages.UpdateSubscription{ID: pathParam(ctx, "id"), Change: ch, Origin: r.origin()})
}

// deleteSubscription removes a subscription (ADMIN).
func (s *Server) deleteSubscription(ctx *fasthttp.RequestCtx, r *request) error {
	return answerSuccess(s, ctx, &messages.DeleteSubscription{ID: pathParam(ctx, "id"), Origin: r.origin()})
}

// rotateSubscriptionSecret gives a subscription a new secret, shown this
// once; the previous one keeps signing beside it for 24 h (ADMIN).
func (s *Server) rotateSubscriptionSecret(ctx *fasthttp.RequestCtx, r *request) error {
	noStore(ctx)
	return answerWrapped(s, ctx, fasthttp.StatusOK, "subscription",
		&messages.RotateSubscriptionSecret{ID: pathParam(ctx, "id"), Origin: r.origin()})
}

// deliveryAnswerWait bounds a test ping or a retry: one attempt (10 s at
// most) and its record.
const deliveryAnswerWait = 20 * time.Second

// testSubscription sends a ping event to the subscription now and answers
// the delivery once the attempt has an outcome (ADMIN).
func (s *Server) testSubscription(ctx *fasthttp.RequestCtx, r *request) error {
	res, err := messages.AskTimeout(s.core, &messages.TestSubscription{ID: pathParam(ctx, "id"), Origin: r.origin()}, deliveryAnswerWait)
	if err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"delivery": res})
	return nil
}

// listDeliveries pages a subscription's deliveries newest first (ADMIN).
func (s *Server) listDeliveries(ctx *fasthttp.RequestCtx, _ *request) error {
	id := pathParam(ctx, "id")
	return writePage(ctx, "deliveries", func(p messages.Page) ([]*messages.Delivery, int, error) {
		return s.store.ListDeliveries(id, p)
	})
}

// retryDelivery attempts a PENDING or FAILED delivery again now and answers
// it once the attempt has an outcome (ADMIN).
func (s *Server) retryDelivery(ctx *fasthttp.RequestCtx, r *request) error {
	cmd := &messages.RetryDelivery{SubscriptionID: pathParam(ctx, "id"), DeliveryID: pathParam(ctx, "deliveryId"), Origin: r.origin()}
	res, err := messages.AskTimeout(s.core, cmd, deliveryAnswerWait)
	if err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"delivery": res})
	return nil
}
