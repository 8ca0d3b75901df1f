// Package client is the command-line client of a running Exekra server:
// `exekra login`, `exekra run`, `exekra workflows push` and one command
// group per API resource (workflows, versions, executions, runners,
// triggers, users, api-keys). It speaks only the public HTTP API (through
// net/http), keeps the server and a token in the user's config dir, and
// prints tables for people or, with -o json, the API's JSON for scripts.
//
// A resource is a row of the table in resources.go: adding one (assets,
// subscriptions) is a new row, not new code.
package client
