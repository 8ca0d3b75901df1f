package actors

import (
	"strings"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/exekra/orchestrator/messages"
)

// childWorkflows is the name of the workflows actor.
const childWorkflows = "workflows"

// maxWorkflowName bounds a workflow's name.
const maxWorkflowName = 200

// workflowsActor owns workflows and their versions, and publishing.
//
// Handles: *messages.CreateWorkflow, *messages.UpdateWorkflow,
// *messages.DeleteWorkflow, *messages.SaveDraft, *messages.PublishLatest.
// Sends: replies; *triggersRemoved to the triggers supervisor after a
// delete (their schedules stop at once). State: Census.Workflows (the
// records themselves live in storage; every change is one durable
// transaction that reads and writes inside it). Timers: none.
type workflowsActor struct {
	sys *System
}

// triggersRemoved tells the triggers supervisor that storage no longer holds
// these triggers (their workflow was deleted): it stops their actors.
type triggersRemoved struct{ ids []string }

// Receive implements actor.Actor.
func (a *workflowsActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		n, err := a.sys.store.CountWorkflows()
		if err != nil {
			panic(err)
		}
		a.sys.census.Workflows.Store(int64(n))
		reportReady(ctx, childWorkflows)
	case *messages.CreateWorkflow:
		ctx.Respond(a.create(msg))
	case *messages.UpdateWorkflow:
		ctx.Respond(a.update(msg))
	case *messages.DeleteWorkflow:
		ctx.Respond(a.delete(ctx, msg))
	case *messages.SaveDraft:
		ctx.Respond(a.saveDraft(msg))
	case *messages.PublishLatest:
		ctx.Respond(a.publish(msg))
	}
}

// checkWorkflowName trims and checks a workflow name.
func checkWorkflowName(name string) (string, error) {
	return messages.CleanName(name, maxWorkflowName)
}

func (a *workflowsActor) create(msg *messages.CreateWorkflow) any {
	name, err := checkWorkflowName(msg.Name)
	if err != nil {
		return err
	}
	if err := checkLimitOnly("workflows", a.sys.LicenseLimits().Workflows, a.sys.census.Workflows.Load()); err != nil {
		return err
	}
	now := a.sys.Now()
	labels, err := messages.NormalizeLabels("runnerLabels", msg.RunnerLabels)
	if err != nil {
		return err
	}
	w := &messages.Workflow{
		ID: messages.NewID(now), Name: name, Description: msg.Description, CreatedBy: msg.Origin.ActorID,
		CreatedAt: messages.TimeOf(now), UpdatedAt: messages.TimeOf(now), RunnerLabels: messages.LabelsOrEmpty(labels),
	}
	audit := a.sys.auditEntry(msg.Origin, messages.AuditWorkflowCreated, "workflow", w.ID, w.Name)
	if err := a.sys.store.CreateWorkflow(w, audit); err != nil {
		return err
	}
	a.sys.census.Workflows.Add(1)
	return w
}

func (a *workflowsActor) update(msg *messages.UpdateWorkflow) any {
	if msg.Name == nil && msg.Description == nil && msg.RunnerLabels == nil {
		return messages.Invalid("give at least one of name, description, runnerLabels")
	}
	labels, err := messages.NormalizeLabels("runnerLabels", msg.RunnerLabels)
	if err != nil {
		return err
	}
	var changes []string
	if labels != nil {
		changes = append(changes, "runnerLabels")
	}
	name := msg.Name
	if name != nil {
		n, err := checkWorkflowName(*name)
		if err != nil {
			return err
		}
		name = &n
		changes = append(changes, "name")
	}
	if msg.Description != nil {
		changes = append(changes, "description")
	}
	audit := a.sys.auditEntry(msg.Origin, messages.AuditWorkflowUpdated, "workflow", msg.ID, strings.Join(changes, ","))
	w, err := a.sys.store.UpdateWorkflow(msg.ID, name, msg.Description, labels, messages.TimeOf(a.sys.Now()), audit)
	if err != nil {
		return err
	}
	return w
}

func (a *workflowsActor) delete(ctx actor.Context, msg *messages.DeleteWorkflow) any {
	audit := a.sys.auditEntry(msg.Origin, messages.AuditWorkflowDeleted, "workflow", msg.ID, "")
	ids, err := a.sys.store.DeleteWorkflow(msg.ID, audit)
	if err != nil {
		return err
	}
	a.sys.census.Workflows.Add(-1)
	if len(ids) > 0 {
		if pid := a.sys.pids[childTriggers]; pid != nil {
			ctx.Send(pid, &triggersRemoved{ids: ids})
		}
	}
	return &messages.WorkflowDeleted{ID: msg.ID, TriggerIDs: ids}
}

func (a *workflowsActor) saveDraft(msg *messages.SaveDraft) any {
	if err := messages.ValidateGraph(msg.GraphJSON); err != nil {
		return err
	}
	now := a.sys.Now()
	v := &messages.Version{
		ID: messages.NewID(now), WorkflowID: msg.WorkflowID, Status: messages.VersionDraft,
		GraphJSON: msg.GraphJSON, Metadata: msg.Metadata, CreatedBy: msg.Origin.ActorID, CreatedAt: messages.TimeOf(now),
	}
	out, err := a.sys.store.SaveDraft(v, nil)
	if err != nil {
		return err
	}
	return out
}

func (a *workflowsActor) publish(msg *messages.PublishLatest) any {
	if err := a.sys.CheckCanCreate(); err != nil {
		return err
	}
	audit := a.sys.auditEntry(msg.Origin, messages.AuditPublished, "workflow", msg.WorkflowID, "")
	v, err := a.sys.store.PublishLatest(msg.WorkflowID, messages.TimeOf(a.sys.Now()), audit)
	if err != nil {
		return err
	}
	return v
}
