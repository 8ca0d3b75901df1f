// Package refrunner is the reference runner of Exekra Orchestrator: the
// program behind `exekra runner`.
//
// A runner authenticates with its machine credentials, heartbeats while idle,
// long-polls the orchestrator for work, executes the workflow graph it is
// handed (see docs/graph.md for the graph shape and the node types) and reports
// progress and the final outcome through POST /api/executions/:id/status.
//
// The moving parts:
//
//	Main         flags → Config → Run; exit codes for the exekra binary
//	Run          authenticate, first heartbeat, then the heartbeat loop and the poll loop
//	client       HTTP to the orchestrator: bearer token, re-authentication, API errors
//	backoff      exponential backoff with full jitter for every retried call
//	execution    one assignment: RUNNING report, node by node execution, progress
//	             reports, stop requests, the terminal report (retried until delivered)
//	graph/nodes  graph parsing, topological order, validation and node behaviour
//	metrics      host CPU (/proc/stat), memory (/proc/meminfo), disk (statfs)
//
// The package talks to the orchestrator only through its public HTTP API and
// imports nothing from the server packages, so it doubles as an executable
// description of the runner protocol.
package refrunner
