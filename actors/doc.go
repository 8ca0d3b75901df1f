// Package actors holds Exekra's live state in protoactor-go actors. Each
// piece of state has exactly one owner actor, and only that owner writes its
// records; everything else (HTTP handlers, timers, other actors) sends it a
// message and acts on the reply. Persistent state is written through the
// storage group-commit path before a change is acknowledged, and every actor
// rehydrates from storage in Started, so a supervisor restart (or a process
// restart) resumes from the last durable snapshot.
//
// The supervision tree (children start in this order, each after the one
// before has rehydrated; see children in orchestrator.go):
//
//	orchestrator (top supervisor, one-for-one restarts)
//	├── events           fans committed domain events out to live streams (GET /api/events)
//	├── license          the license and the system state it implies
//	├── accounts         users, sessions (token revocation), login audit
//	├── dispatcher       the queue of QUEUED executions (execQueue: compact entries,
//	│                    no actor each) and the assignment of work to polling runners
//	├── executions       the registry of virtual execution actors
//	│                    → execution/<id>  live only while its execution is in flight
//	│                      (ASSIGNED, RUNNING): activated by the first command that
//	│                      reaches it, passivated when idle (QUEUED, finished)
//	├── runners          → runner/<id>     status, metrics, heartbeat TTL, current execution
//	├── workflows        workflows, versions, publishing
//	├── assets           assets (sealed secrets) and their hand-over to the assigned runner
//	├── subscriptions    → <id>            event subscriptions; one delivery actor each (its outbox)
//	└── triggers         → trigger/<id>    cron schedule, enabled flag, webhook firing
//
// How work flows: a handler's CreateExecution goes to executions, which
// writes it (batched into group commits) and hands the durable batch to the
// dispatcher, which queues the entries and then answers the creators; no
// actor is spawned. A runner's poll goes to runner/<id>, which claims from
// the dispatcher; the dispatcher pops the best entry and sends
// assignExecution to the registry, which activates execution/<id> (it
// loads its record from storage) to persist ASSIGNED before the claim is
// answered. Status reports go through the registry to execution/<id>; one
// that ends the execution is answered by runner/<id> once it has released
// the runner (read-your-writes), likewise stops (stopExecutionIds) and a
// runner's delete (answered once its execution is re-queued or failed).
// An execution that is idle after a command (back in the queue, finished)
// asks the registry to passivate it; the registry buffers what arrives
// meanwhile and re-activates it on Terminated. A start rebuilds the queue
// from the queue index without activating anything and respawns only the
// ASSIGNED and RUNNING executions. Trigger fires and webhooks send the same
// CreateExecution, forwarded with the caller as sender.
//
// Every timer (the dispatcher's stale check and claim expiries, the
// runners' tick and poll bounds, the creation linger, trigger schedules)
// is armed through Config.AfterFunc, so tests drive them with a fake
// clock.
//
// Domain events: storage numbers the events each change produces and
// commits the durable ones with the change; after the commit the writer
// hands them to events, which keeps the recent ones for resumes and passes
// each batch to every open stream without ever waiting on one (a stream
// that cannot keep up is ended). accounts tells events to end the streams
// of a session that logged out or a user who was disabled.
//
// Outbound webhooks: subscriptions owns the subscription records and
// spawns a delivery actor per subscription. Each reads the event log from
// its subscription's cursor (storage) when storage's writer rings its bell
// after a commit, sends a window of up to 64 deliveries, each from a
// goroutine of its own (so a dead receiver holds up nobody), records the
// outcomes that arrived since its last write with the cursor move in one
// transaction, and reports its cursor to the owner, which sets the log's
// retention floor to the lowest cursor of the enabled subscriptions. For
// GET /metrics each also counts its attempts by outcome and publishes its
// cursor, enabled flag and oldest unfinished delivery's event time into
// atomics (outbox_figures.go), read at scrape time.
//
// Assets: a poll answer that hands an execution over (httpd's poll handler,
// after runner/<id> answered) asks assets for the values its version
// references (publishing recorded their names on the version); assets
// checks in one transaction that the execution is ASSIGNED to that runner,
// unseals the values and audits the hand-over, and answers once the audit
// entry is durable.
//
// Outside callers reach the tree through System.Ask, which routes a command
// to its owner by the command's type. Every command declares its reply type
// (messages.Command; notices, which nobody waits on, are messages.Notice),
// and callers ask through messages.Ask, which hands them the reply typed;
// commands_test.go runs every command through the tree and checks each
// answer against its declaration. Read-mostly state that the HTTP layer
// checks on every request (system state, license standing, users, revoked
// tokens) is published by its owner as immutable snapshots behind atomic
// pointers: readers never lock and never see a half-made change.
package actors
