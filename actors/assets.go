package actors

import (
	"strings"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/exekra/orchestrator/messages"
)

// childAssets is the name of the assets actor.
const childAssets = "assets"

// assetsActor owns the asset records (docs/api.md, "Assets") and their
// hand-over to runners.
//
// Handles: *messages.CreateAsset, *messages.UpdateAsset,
// *messages.DeleteAsset (each one durable transaction, answered when it
// committed), *messages.HandOverAssets (read and audited in one group-
// committed write; answered from the storage writer's callback, so
// concurrent hand-overs share a commit and the actor never waits on disk
// for them). Sends: replies only. State: none in memory (the records, the
// sealed secrets and the name index live in storage; the values are
// unsealed only inside the hand-over transaction). Timers: none.
//
// Nothing this actor handles is logged with its fields: the commands and
// the replies carry secrets.
type assetsActor struct {
	sys *System
}

// Receive implements actor.Actor.
func (a *assetsActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		reportReady(ctx, childAssets)
	case *messages.CreateAsset:
		ctx.Respond(a.create(msg))
	case *messages.UpdateAsset:
		ctx.Respond(a.update(msg))
	case *messages.DeleteAsset:
		ctx.Respond(a.delete(msg))
	case *messages.HandOverAssets:
		a.handOver(ctx, msg)
	}
}

// assetFields checks the type-dependent fields of a create or an update:
// value belongs to TEXT and SECRET, username and password to CREDENTIAL.
func assetFields(t messages.AssetType, value, username, password, description *string) error {
	if t == messages.AssetCredential {
		if value != nil {
			return messages.Invalid("a CREDENTIAL asset has username and password, not value")
		}
	} else if username != nil || password != nil {
		return messages.Invalid("username and password belong to CREDENTIAL assets; a %s asset has value", t)
	}
	if value != nil {
		if err := messages.CheckAssetValue("value", *value); err != nil {
			return err
		}
	}
	if password != nil {
		if err := messages.CheckAssetValue("password", *password); err != nil {
			return err
		}
	}
	if username != nil {
		if err := messages.CheckAssetUsername(*username); err != nil {
			return err
		}
	}
	if description != nil {
		if err := messages.CheckAssetDescription(*description); err != nil {
			return err
		}
	}
	return nil
}

func (a *assetsActor) create(msg *messages.CreateAsset) any {
	name, err := messages.CheckAssetName(msg.Name)
	if err != nil {
		return err
	}
	if !messages.ValidAssetType(msg.Type) {
		return messages.Invalid("type must be TEXT, SECRET or CREDENTIAL")
	}
	if err := assetFields(msg.Type, msg.Value, msg.Username, msg.Password, msg.Description); err != nil {
		return err
	}
	now := a.sys.Now()
	rec := &messages.Asset{
		ID: messages.NewID(now), Name: name, Type: msg.Type, CreatedBy: msg.Origin.ActorID,
		CreatedAt: messages.TimeOf(now), UpdatedAt: messages.TimeOf(now),
	}
	if msg.Description != nil {
		rec.Description = *msg.Description
	}
	audit := a.sys.auditEntry(msg.Origin, messages.AuditAssetCreated, "asset", rec.ID, name+" ("+string(msg.Type)+")")
	out, err := a.sys.store.CreateAsset(rec, msg.Value, msg.Username, msg.Password, audit)
	if err != nil {
		return err
	}
	return out
}

func (a *assetsActor) update(msg *messages.UpdateAsset) any {
	if msg.Name == nil && msg.Type == nil && msg.Value == nil && msg.Username == nil && msg.Password == nil && msg.Description == nil {
		return messages.Invalid("give at least one of name, description, value, username, password")
	}
	cur, err := a.sys.store.GetAsset(msg.ID)
	if err != nil {
		return err
	}
	if cur == nil {
		return messages.NotFound("asset")
	}
	if msg.Type != nil && *msg.Type != cur.Type {
		if !messages.ValidAssetType(*msg.Type) {
			return messages.Invalid("type must be TEXT, SECRET or CREDENTIAL")
		}
		return messages.Invalid("an asset's type never changes (this one is %s): create a new asset instead", cur.Type)
	}
	if err := assetFields(cur.Type, msg.Value, msg.Username, msg.Password, msg.Description); err != nil {
		return err
	}
	ch := messages.AssetChange{Description: msg.Description, Value: msg.Value, Username: msg.Username,
		Password: msg.Password, UpdatedAt: messages.TimeOf(a.sys.Now())}
	var changed []string
	if msg.Name != nil {
		name, err := messages.CheckAssetName(*msg.Name)
		if err != nil {
			return err
		}
		ch.Name = &name
		changed = append(changed, "name")
	}
	// The audit says which fields changed, never what they hold.
	for _, f := range []struct {
		name string
		set  bool
	}{{"description", msg.Description != nil}, {"value", msg.Value != nil}, {"username", msg.Username != nil}, {"password", msg.Password != nil}} {
		if f.set {
			changed = append(changed, f.name)
		}
	}
	audit := a.sys.auditEntry(msg.Origin, messages.AuditAssetUpdated, "asset", msg.ID, strings.Join(changed, ","))
	out, err := a.sys.store.UpdateAsset(msg.ID, ch, audit)
	if err != nil {
		return err
	}
	return out
}

func (a *assetsActor) delete(msg *messages.DeleteAsset) any {
	cur, err := a.sys.store.GetAsset(msg.ID)
	if err != nil {
		return err
	}
	if cur == nil {
		return messages.NotFound("asset")
	}
	audit := a.sys.auditEntry(msg.Origin, messages.AuditAssetDeleted, "asset", msg.ID, cur.Name)
	if err := a.sys.store.DeleteAsset(msg.ID, audit); err != nil {
		return err
	}
	return &messages.Ack{}
}

// handOver reads and audits a hand-over in one group-committed write and
// answers the asker from the writer's callback.
func (a *assetsActor) handOver(ctx actor.Context, msg *messages.HandOverAssets) {
	sender := ctx.Sender()
	if sender == nil {
		return // nobody to hand them to
	}
	audit := a.sys.auditEntry(messages.Origin{ActorType: messages.ActorRunner, ActorID: msg.RunnerID, IP: msg.IP},
		messages.AuditAssetHandedOut, "execution", msg.ExecutionID, "")
	root := a.sys.actors.Root
	a.sys.store.HandOverAssets(msg.ExecutionID, msg.RunnerID, audit, func(b messages.AssetBundle, err error) {
		if err != nil {
			root.Send(sender, err)
			return
		}
		root.Send(sender, &b)
	})
}
