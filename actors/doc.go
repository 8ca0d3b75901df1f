// Package actors holds Exekra's live state in protoactor-go actors. Each
// piece of state has exactly one owner actor, and only that owner writes its
// records; everything else (HTTP handlers, timers, other actors) sends it a
// message and acts on the reply. Persistent state is written through the
// storage group-commit path before a change is acknowledged, and every actor
// rehydrates from storage in Started, so a supervisor restart (or a process
// restart) resumes from the last durable snapshot.
//
// The supervision tree:
//
//	orchestrator (top supervisor, one-for-one restarts)
//	├── license          the license and the system state it implies
//	├── accounts         users, sessions (token revocation), login audit
//	├── workflows        workflows, versions, publishing
//	├── dispatcher       the priority queue and the assignment of work to polling runners
//	├── executions       → execution/<id>  one per active execution; stops when it finishes
//	├── runners          → runner/<id>     status, metrics, heartbeat TTL, current execution
//	└── triggers         → trigger/<id>    cron schedule, enabled flag, webhook firing
//
// Outside callers reach the tree through System.Ask, which routes a command
// to its owner by the command's type. Read-mostly state that the HTTP layer
// checks on every request (system state, license standing, users, revoked
// tokens) is published by its owner as immutable snapshots behind atomic
// pointers: readers never lock and never see a half-made change.
package actors
