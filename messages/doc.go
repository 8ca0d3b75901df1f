// Package messages is the vocabulary of Exekra Orchestrator: the records the
// server stores (users, workflows, versions, executions, runners, triggers,
// audit entries), their status constants, the commands and replies exchanged
// with the actors that own live state, and the one Error type every layer
// speaks. It imports the standard library only, so every adapter (storage,
// actors, httpd) can depend on it without depending on each other.
package messages
