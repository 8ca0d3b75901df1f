package storage

import (
	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// RunnerProcesses lists the published workflows (GET /api/runners/processes),
// newest workflow first. The slice is shared: callers must not change it.
//
// Runners ask for it when they start, so a fleet restarting at once asks
// thousands of times in a few seconds; computing it reads every workflow and
// every published version (graphs included). It is therefore kept in memory
// and recomputed only after a write to workflows or versions
// (updateCatalog). A list computed while such a write commits is not kept:
// the generation it started from has moved on.
func (s *Store) RunnerProcesses() ([]messages.RunnerProcess, error) {
	if p := s.processes.Load(); p != nil {
		return *p, nil
	}
	gen := s.catalogGen.Load()
	out, err := s.readRunnerProcesses()
	if err != nil {
		return nil, err
	}
	if s.catalogGen.Load() == gen {
		s.processes.CompareAndSwap(nil, &out)
	}
	return out, nil
}

// updateCatalog is update for writes to workflows and versions: once the
// write is over (durable or failed), the cached process list is dropped.
// The generation moves first, so a list being computed from before the
// write is not stored after the drop.
func (s *Store) updateCatalog(fn func(tx *bbolt.Tx) error) error {
	err := s.update(fn)
	s.catalogGen.Add(1)
	s.processes.Store(nil)
	return err
}

func (s *Store) readRunnerProcesses() ([]messages.RunnerProcess, error) {
	out := []messages.RunnerProcess{}
	err := s.view(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketWorkflows).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var w messages.Workflow
			if err := decode(v, &w); err != nil {
				if skipBadTx(tx, bucketWorkflows, k, err) {
					continue
				}
				return err
			}
			if w.PublishedVersionID == "" {
				continue
			}
			var ver messages.Version
			found, err := getTx(tx, bucketVersions, string(w.PublishedVersionID), &ver)
			if err != nil {
				return err
			}
			if !found {
				continue
			}
			out = append(out, messages.RunnerProcess{
				WorkflowID: w.ID, Name: w.Name, Description: w.Description,
				VersionID: ver.ID, VersionNumber: ver.Number, PublishedAt: ver.PublishedAt,
			})
		}
		return nil
	})
	return out, err
}
