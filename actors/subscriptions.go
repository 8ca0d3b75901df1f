package actors

import (
	"math"
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
// *messages.DeleteSubscription, *messages.RotateSubscriptionSecret;
// *messages.TestSubscription and *messages.RetryDelivery are forwarded to
// the subscription's delivery actor; outboxMoved from them. Sends: replies,
// deliveryReload to a child after a change. State: one delivery actor per
// subscription (deliveries.go) and each one's cursor, whose lowest among
// the enabled ones is the event log's retention floor. Timers: none.
type subscriptionsActor struct {
	sys     *System
	kids    map[string]*actor.PID
	cursors map[string]uint64 // enabled subscriptions' cursors
	client  *outbound
}

// Receive implements actor.Actor.
func (a *subscriptionsActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.kids, a.cursors = map[string]*actor.PID{}, map[string]uint64{}
		a.client = outboundClient(a.sys.cfg.OutboundAllowLoopback)
		a.sys.store.SetEventsFloor(math.MaxUint64)
		states, err := a.sys.store.OutboxStates()
		if err != nil {
			panic(err)
		}
		for _, st := range states {
			if st.Sub.Enabled {
				a.cursors[st.Sub.ID] = st.Cursor
			}
			a.spawn(ctx, st.Sub.ID)
		}
		a.floor()
		reportReady(ctx, childSubscriptions)
	case *messages.CreateSubscription:
		res := a.create(msg)
		if sub, ok := res.(*messages.Subscription); ok {
			a.spawn(ctx, sub.ID)
		}
		ctx.Respond(res)
	case *messages.UpdateSubscription:
		a.respondAndReload(ctx, msg.ID, a.update(msg))
	case *messages.DeleteSubscription:
		res := a.delete(msg)
		if _, ok := res.(*messages.Ack); ok {
			if pid := a.kids[msg.ID]; pid != nil {
				// Poison, not Stop: a ping or a retry already forwarded
				// to it is handled (and answered) before it stops.
				ctx.Poison(pid)
			}
			delete(a.kids, msg.ID)
			delete(a.cursors, msg.ID)
			a.floor()
		}
		ctx.Respond(res)
	case *messages.RotateSubscriptionSecret:
		a.respondAndReload(ctx, msg.ID, a.rotate(msg))
	case *messages.TestSubscription:
		a.forward(ctx, msg.ID)
	case *messages.RetryDelivery:
		a.forward(ctx, msg.SubscriptionID)
	case *outboxMoved:
		if _, ok := a.kids[msg.id]; !ok {
			return
		}
		if msg.enabled {
			a.cursors[msg.id] = msg.cursor
		} else {
			delete(a.cursors, msg.id)
		}
		a.floor()
	}
}

// spawn starts the delivery actor of subscription id.
func (a *subscriptionsActor) spawn(ctx actor.Context, id string) {
	props := actor.PropsFromProducer(func() actor.Actor { return newDeliveryActor(a.sys, id, a.client) })
	pid, err := ctx.SpawnNamed(props, id)
	if err != nil {
		a.sys.cfg.Logger.Warn("delivery actor not started", "subscription", id, "err", err)
		return
	}
	a.kids[id] = pid
}

func (a *subscriptionsActor) respondAndReload(ctx actor.Context, id string, res any) {
	if pid := a.kids[id]; pid != nil {
		if _, ok := res.(error); !ok {
			ctx.Send(pid, &deliveryReload{})
		}
	}
	ctx.Respond(res)
}

func (a *subscriptionsActor) forward(ctx actor.Context, id string) {
	pid := a.kids[id]
	if pid == nil {
		ctx.Respond(messages.NotFound("subscription"))
		return
	}
	ctx.Forward(pid)
}

// floor sets the event log's retention floor to the lowest cursor of the
// enabled subscriptions (none: pruned by count only).
func (a *subscriptionsActor) floor() {
	low := uint64(math.MaxUint64)
	for _, c := range a.cursors {
		low = min(low, c)
	}
	a.sys.store.SetEventsFloor(low)
}

// checkDescription checks a subscription's description: at most
// maxSubscriptionDescription characters, and free text as every
// description is (messages.CheckDescription).
func checkDescription(d string) error {
	if len([]rune(d)) > maxSubscriptionDescription {
		return messages.Invalid("description is longer than %d characters", maxSubscriptionDescription)
	}
	return messages.CheckDescription("description", d)
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
