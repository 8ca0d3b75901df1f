package httpd

// quarantined is the count of stored records moved aside because they
// cannot be decoded (health and /metrics; docs/operations.md, Quarantine).
func (s *Server) quarantined() int64 {
	if s.cfg.Quarantined == nil {
		return 0
	}
	return s.cfg.Quarantined()
}
