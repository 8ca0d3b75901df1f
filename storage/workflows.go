package storage

import (
	"bytes"
	"encoding/binary"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// Workflows layout:
//   - bucketWorkflows: workflow id → messages.Workflow JSON. PublishedVersionID
//     and LatestVersionNumber are kept current in the transactions that
//     change them (executions and runners read these records directly).
//   - bucketVersions: version id → messages.Version JSON.
//   - bucketWorkflowVersions: workflow id + uint32 big-endian number →
//     version id (a workflow's versions in number order, one prefix scan).
//   - counter "workflows": how many workflows exist.
var bucketWorkflowVersions = []byte("workflow_versions")

const counterWorkflows = "workflows"

func init() { registerBuckets(bucketWorkflowVersions) }

func versionIndexKey(workflowID string, number int) []byte {
	k := make([]byte, len(workflowID)+4)
	copy(k, workflowID)
	binary.BigEndian.PutUint32(k[len(workflowID):], uint32(number))
	return k
}

// getWorkflowTx reads a workflow or answers NOT_FOUND.
func getWorkflowTx(tx *bbolt.Tx, id string) (*messages.Workflow, error) {
	var w messages.Workflow
	found, err := getTx(tx, bucketWorkflows, id, &w)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, messages.NotFound("workflow")
	}
	w.RunnerLabels = messages.LabelsOrEmpty(w.RunnerLabels)
	return &w, nil
}

// CreateWorkflow inserts a new workflow with its audit entry.
func (s *Store) CreateWorkflow(w *messages.Workflow, audit *messages.AuditEntry) error {
	rec := *w
	return s.updateCatalog(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketWorkflows).Get([]byte(rec.ID)) != nil {
			return messages.Errorf(messages.CodeConflict, "workflow id already exists")
		}
		if err := putTx(tx, bucketWorkflows, rec.ID, &rec); err != nil {
			return err
		}
		if err := addCounterTx(tx, counterWorkflows, 1); err != nil {
			return err
		}
		return appendAuditTx(tx, audit)
	})
}

// UpdateWorkflow changes the name, description and/or runner labels (nil
// keeps a field) of an existing workflow at now, and returns the new record.
func (s *Store) UpdateWorkflow(id string, name, description *string, labels []string, now messages.Time, audit *messages.AuditEntry) (*messages.Workflow, error) {
	var out *messages.Workflow
	err := s.updateCatalog(func(tx *bbolt.Tx) error {
		w, err := getWorkflowTx(tx, id)
		if err != nil {
			return err
		}
		if name != nil {
			w.Name = *name
		}
		if description != nil {
			w.Description = *description
		}
		if labels != nil {
			w.RunnerLabels = labels
		}
		w.UpdatedAt = now
		if err := putTx(tx, bucketWorkflows, id, w); err != nil {
			return err
		}
		out = w
		return appendAuditTx(tx, audit)
	})
	return out, err
}

// DeleteWorkflow removes a workflow, its versions and its triggers, unless
// it has QUEUED, ASSIGNED or RUNNING executions (CONFLICT, checked inside the
// transaction). It returns the ids of the triggers removed. Executions and
// analytics are kept.
func (s *Store) DeleteWorkflow(id string, audit *messages.AuditEntry) ([]string, error) {
	var triggerIDs []string
	err := s.updateCatalog(func(tx *bbolt.Tx) error {
		triggerIDs = nil
		if _, err := getWorkflowTx(tx, id); err != nil {
			return err
		}
		if n := counterTx(tx, activeCounter(id)) + int(s.txCounter(activeCounter(id))); n > 0 {
			return messages.Errorf(messages.CodeConflict, "the workflow has %d active execution(s): stop them first", n)
		}
		idx := tx.Bucket(bucketWorkflowVersions)
		var keys [][]byte
		c := idx.Cursor()
		prefix := []byte(id)
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+4; k, v = c.Next() {
			keys = append(keys, append([]byte(nil), k...))
			if err := tx.Bucket(bucketVersions).Delete(v); err != nil {
				return err
			}
		}
		for _, k := range keys {
			if err := idx.Delete(k); err != nil {
				return err
			}
		}
		// Each trigger that goes with the workflow gets its last event.
		var fx messages.Effects
		var at messages.Time
		if audit != nil {
			at = audit.CreatedAt
		}
		ids, err := deleteTriggersOfWorkflowTx(tx, id, func(t *messages.Trigger) {
			fx = withTriggerEvent(fx, t, at, true)
		})
		if err != nil {
			return err
		}
		if err := s.appendEventsTx(tx, fx.Events); err != nil {
			return err
		}
		triggerIDs = ids
		if err := tx.Bucket(bucketWorkflows).Delete([]byte(id)); err != nil {
			return err
		}
		if err := addCounterTx(tx, counterWorkflows, -1); err != nil {
			return err
		}
		return appendAuditTx(tx, audit)
	})
	if err != nil {
		return nil, err
	}
	return triggerIDs, nil
}

// GetWorkflow reads one workflow (nil, nil when absent).
func (s *Store) GetWorkflow(id string) (*messages.Workflow, error) {
	var w messages.Workflow
	var found bool
	err := s.view(func(tx *bbolt.Tx) (err error) {
		found, err = getTx(tx, bucketWorkflows, id, &w)
		return err
	})
	if err != nil || !found {
		return nil, err
	}
	w.RunnerLabels = messages.LabelsOrEmpty(w.RunnerLabels)
	return &w, nil
}

// ListWorkflows pages the workflows newest first, with the total.
func (s *Store) ListWorkflows(page messages.Page) ([]*messages.Workflow, int, error) {
	out := []*messages.Workflow{}
	var total int
	err := s.view(func(tx *bbolt.Tx) (err error) {
		total, err = pageNewestFirstTx(tx, bucketWorkflows, page, counterWorkflows, nil, func(v []byte) error {
			var w messages.Workflow
			if err := decode(v, &w); err != nil {
				return err
			}
			w.RunnerLabels = messages.LabelsOrEmpty(w.RunnerLabels)
			out = append(out, &w)
			return nil
		})
		return err
	})
	return out, total, err
}

// CountWorkflows is the number of workflows (the license census).
func (s *Store) CountWorkflows() (int, error) { return s.Counter(counterWorkflows) }

// versionsTx lists a workflow's versions, newest (highest number) first.
func versionsTx(tx *bbolt.Tx, workflowID string) ([]*messages.Version, error) {
	out := []*messages.Version{}
	prefix := []byte(workflowID)
	c := tx.Bucket(bucketWorkflowVersions).Cursor()
	// Seek past the last key of the prefix, then walk backwards.
	end := append(append([]byte(nil), prefix...), 0xff, 0xff, 0xff, 0xff, 0xff)
	var k, v []byte
	if k, _ = c.Seek(end); k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
		if len(k) != len(prefix)+4 {
			continue
		}
		var ver messages.Version
		found, err := getTx(tx, bucketVersions, string(v), &ver)
		if err != nil {
			return nil, err
		}
		if found {
			out = append(out, &ver)
		}
	}
	return out, nil
}

// latestVersionTx reads a workflow's highest-numbered version (nil if none).
func latestVersionTx(tx *bbolt.Tx, w *messages.Workflow) (*messages.Version, error) {
	if w.LatestVersionNumber == 0 {
		return nil, nil
	}
	id := tx.Bucket(bucketWorkflowVersions).Get(versionIndexKey(w.ID, w.LatestVersionNumber))
	if id == nil {
		return nil, nil
	}
	var v messages.Version
	found, err := getTx(tx, bucketVersions, string(id), &v)
	if err != nil || !found {
		return nil, err
	}
	return &v, nil
}

// SaveDraft stores v as the next version of its workflow: the number is
// allocated inside the write transaction (latestVersionNumber + 1), so
// numbers never repeat or skip, whatever the concurrency. It returns the
// stored version. An unknown workflow is NOT_FOUND.
func (s *Store) SaveDraft(v *messages.Version, audit *messages.AuditEntry) (*messages.Version, error) {
	var out *messages.Version
	err := s.updateCatalog(func(tx *bbolt.Tx) error {
		w, err := getWorkflowTx(tx, v.WorkflowID)
		if err != nil {
			return err
		}
		rec := *v
		rec.Number = w.LatestVersionNumber + 1
		rec.Status = messages.VersionDraft
		rec.PublishedAt = 0
		if err := putTx(tx, bucketVersions, rec.ID, &rec); err != nil {
			return err
		}
		if err := tx.Bucket(bucketWorkflowVersions).Put(versionIndexKey(w.ID, rec.Number), []byte(rec.ID)); err != nil {
			return err
		}
		w.LatestVersionNumber = rec.Number
		w.UpdatedAt = rec.CreatedAt
		if err := putTx(tx, bucketWorkflows, w.ID, w); err != nil {
			return err
		}
		out = &rec
		return appendAuditTx(tx, audit)
	})
	return out, err
}

// PublishLatest publishes a workflow's latest version, which must be a
// DRAFT (else VALIDATION_ERROR, as when there are no versions) whose asset
// references all name existing assets (else VALIDATION_ERROR): it becomes
// PUBLISHED at now, the previously published version SUPERSEDED, and the
// workflow's PublishedVersionID points at it — all in one transaction.
func (s *Store) PublishLatest(workflowID string, now messages.Time, audit *messages.AuditEntry) (*messages.Version, error) {
	var out *messages.Version
	err := s.updateCatalog(func(tx *bbolt.Tx) error {
		w, err := getWorkflowTx(tx, workflowID)
		if err != nil {
			return err
		}
		v, err := latestVersionTx(tx, w)
		if err != nil {
			return err
		}
		if v == nil {
			return messages.Invalid("the workflow has no versions: save a draft first")
		}
		if v.Status != messages.VersionDraft {
			return messages.Invalid("the latest version (%d) is %s, not a DRAFT: save a new draft first", v.Number, v.Status)
		}
		// Its asset references resolve now or the publish is refused (assets.go).
		if err := publishAssetsTx(tx, v); err != nil {
			return err
		}
		if prev := string(w.PublishedVersionID); prev != "" && prev != v.ID {
			var pv messages.Version
			found, err := getTx(tx, bucketVersions, prev, &pv)
			if err != nil {
				return err
			}
			if found {
				pv.Status = messages.VersionSuperseded
				if err := putTx(tx, bucketVersions, pv.ID, &pv); err != nil {
					return err
				}
			}
		}
		v.Status = messages.VersionPublished
		v.PublishedAt = now
		if err := putTx(tx, bucketVersions, v.ID, v); err != nil {
			return err
		}
		w.PublishedVersionID = messages.NullString(v.ID)
		w.UpdatedAt = now
		if err := putTx(tx, bucketWorkflows, w.ID, w); err != nil {
			return err
		}
		out = v
		return appendAuditTx(tx, audit)
	})
	return out, err
}

// ListVersions lists a workflow's versions newest first (NOT_FOUND for an
// unknown workflow).
func (s *Store) ListVersions(workflowID string) ([]*messages.Version, error) {
	var out []*messages.Version
	err := s.view(func(tx *bbolt.Tx) error {
		if _, err := getWorkflowTx(tx, workflowID); err != nil {
			return err
		}
		var err error
		out, err = versionsTx(tx, workflowID)
		return err
	})
	return out, err
}

// LatestVersion reads a workflow's latest version (NOT_FOUND for an unknown
// workflow or when it has none).
func (s *Store) LatestVersion(workflowID string) (*messages.Version, error) {
	var out *messages.Version
	err := s.view(func(tx *bbolt.Tx) error {
		w, err := getWorkflowTx(tx, workflowID)
		if err != nil {
			return err
		}
		out, err = latestVersionTx(tx, w)
		if err == nil && out == nil {
			return messages.NotFound("version")
		}
		return err
	})
	return out, err
}

// GetVersion reads one version (nil, nil when absent), through a cache
// that catalog writes empty (versioncache.go): the version is shared, its
// callers must not change it.
func (s *Store) GetVersion(id string) (*messages.Version, error) { return s.cachedVersion(id) }

func (s *Store) readVersion(id string) (*messages.Version, error) {
	var v messages.Version
	var found bool
	err := s.view(func(tx *bbolt.Tx) (err error) {
		found, err = getTx(tx, bucketVersions, id, &v)
		return err
	})
	if err != nil || !found {
		return nil, err
	}
	return &v, nil
}

// WorkflowDetail reads a workflow with its versions (newest first), its
// triggers and its execution count, from one read transaction (NOT_FOUND
// for an unknown id).
func (s *Store) WorkflowDetail(id string) (*messages.WorkflowDetail, error) {
	var out *messages.WorkflowDetail
	err := s.view(func(tx *bbolt.Tx) error {
		w, err := getWorkflowTx(tx, id)
		if err != nil {
			return err
		}
		versions, err := versionsTx(tx, id)
		if err != nil {
			return err
		}
		triggers, err := triggersOfWorkflowTx(tx, id)
		if err != nil {
			return err
		}
		out = &messages.WorkflowDetail{Workflow: *w, Versions: versions, Triggers: triggers,
			ExecutionCount: counterTx(tx, workflowExecutionsCounter(id))}
		return nil
	})
	return out, err
}
