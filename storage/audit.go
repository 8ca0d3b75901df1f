package storage

import (
	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// appendAuditTx appends e (when not nil) inside tx. Entries are keyed by
// their time-ordered id, so the log reads newest first by walking backwards.
func appendAuditTx(tx *bbolt.Tx, e *messages.AuditEntry) error {
	if e == nil {
		return nil
	}
	if err := putTx(tx, bucketAudit, e.ID, e); err != nil {
		return err
	}
	return addCounterTx(tx, counterAudit, 1)
}

// AppendAudit durably appends entries to the audit log in one transaction.
func (s *Store) AppendAudit(entries ...*messages.AuditEntry) error {
	return s.update(func(tx *bbolt.Tx) error {
		for _, e := range entries {
			if err := appendAuditTx(tx, e); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListAudit returns one page of the audit log, newest first, and the total.
func (s *Store) ListAudit(page messages.Page) ([]*messages.AuditEntry, int, error) {
	var out []*messages.AuditEntry
	var total int
	err := s.view(func(tx *bbolt.Tx) (err error) {
		total, err = pageNewestFirstTx(tx, bucketAudit, page, counterAudit, nil, func(v []byte) error {
			var e messages.AuditEntry
			if err := decode(v, &e); err != nil {
				return err
			}
			out = append(out, &e)
			return nil
		})
		return err
	})
	return out, total, err
}
