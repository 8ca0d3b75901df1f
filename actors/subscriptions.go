package actors

import (
	"strings"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/exekra/orchestrator/messages"
)

// childSubscriptions is the subscriptions owner's name in the tree.
const childSubscriptions = "subscriptions"

// maxSubscriptionDescription bounds a subscription's description.
const maxSubscriptionDescription = 1000

// subscriptionsActor owns the outbound event subscriptions.
//
// Handles: *messages.CreateSubscription, *messages.UpdateSubscription,
// *messages.DeleteSubscription, *messages.RotateSubscriptionSecret. Sends:
// replies. State: none in memory (the records are read from storage).
// Timers: none.
type subscriptionsActor struct {
	sys *System
}

// Receive implements actor.Actor.
func (a *subscriptionsActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		reportReady(ctx, childSubscriptions)
	case *messages.CreateSubscription:
		ctx.Respond(a.create(msg))
	case *messages.UpdateSubscription:
		ctx.Respond(a.update(msg))
	case *messages.DeleteSubscription:
		ctx.Respond(a.delete(msg))
	case *messages.RotateSubscriptionSecret:
		ctx.Respond(a.rotate(msg))
	}
}

func checkDescription(d string) error {
	if len([]rune(d)) > maxSubscriptionDescription {
		return messages.Invalid("description is longer than %d characters", maxSubscriptionDescription)
	}
	return nil
}

func (a *subscriptionsActor) create(msg *messages.CreateSubscription) any {
	url := strings.TrimSpace(msg.URL)
	if err := messages.CheckSubscriptionURL(url, a.sys.cfg.OutboundAllowLoopback); err != nil {
		return err
	}
	if err := messages.CheckSubscriptionEvents(msg.Events); err != nil {
		return err
	}
	if err := checkDescription(msg.Description); err != nil {
		return err
	}
	now := messages.TimeOf(a.sys.Now())
	sub := &messages.Subscription{ID: messages.NewID(now.Std()), URL: url, Events: append([]string(nil), msg.Events...),
		Description: msg.Description, Enabled: msg.Enabled == nil || *msg.Enabled, CreatedBy: msg.Origin.ActorID,
		CreatedAt: now, UpdatedAt: now}
	secret := messages.NewSubscriptionSecret()
	audit := a.sys.auditEntry(msg.Origin, messages.AuditSubscriptionCreated, "subscription", sub.ID, url)
	if err := a.sys.store.CreateSubscription(sub, secret, messages.AuditOnly(audit)); err != nil {
		return err
	}
	out := *sub
	out.Secret = secret
	return &out
}

func (a *subscriptionsActor) update(msg *messages.UpdateSubscription) any {
	ch := msg.Change
	var changes []string
	if ch.URL != nil {
		u := strings.TrimSpace(*ch.URL)
		if err := messages.CheckSubscriptionURL(u, a.sys.cfg.OutboundAllowLoopback); err != nil {
			return err
		}
		ch.URL = &u
		changes = append(changes, "url="+u)
	}
	if ch.Events != nil {
		if err := messages.CheckSubscriptionEvents(ch.Events); err != nil {
			return err
		}
		changes = append(changes, "events")
	}
	if ch.Description != nil {
		if err := checkDescription(*ch.Description); err != nil {
			return err
		}
		changes = append(changes, "description")
	}
	if ch.Enabled != nil {
		if *ch.Enabled {
			changes = append(changes, "enabled")
		} else {
			changes = append(changes, "disabled")
		}
	}
	ch.UpdatedAt = messages.TimeOf(a.sys.Now())
	audit := a.sys.auditEntry(msg.Origin, messages.AuditSubscriptionUpdated, "subscription", msg.ID, strings.Join(changes, ","))
	sub, err := a.sys.store.UpdateSubscription(msg.ID, ch, messages.AuditOnly(audit))
	if err != nil {
		return err
	}
	return sub
}

func (a *subscriptionsActor) delete(msg *messages.DeleteSubscription) any {
	audit := a.sys.auditEntry(msg.Origin, messages.AuditSubscriptionDeleted, "subscription", msg.ID, "")
	if err := a.sys.store.DeleteSubscription(msg.ID, messages.AuditOnly(audit)); err != nil {
		return err
	}
	return &messages.Ack{}
}

func (a *subscriptionsActor) rotate(msg *messages.RotateSubscriptionSecret) any {
	secret := messages.NewSubscriptionSecret()
	audit := a.sys.auditEntry(msg.Origin, messages.AuditSubscriptionRotated, "subscription", msg.ID, "")
	sub, err := a.sys.store.RotateSubscriptionSecret(msg.ID, secret, messages.TimeOf(a.sys.Now()), messages.AuditOnly(audit))
	if err != nil {
		return err
	}
	sub.Secret = secret
	return sub
}
