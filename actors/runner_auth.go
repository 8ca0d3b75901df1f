package actors

import "github.com/exekra/orchestrator/messages"

// RunnerSession validates a runner token against the live runner registry.
// Until the runners capability registers runners, no runner exists, so every
// runner token is refused.
func (s *System) RunnerSession(runnerID, tokenID string, epoch int64) error {
	return messages.Errorf(messages.CodeUnauthorized, "unknown runner")
}
