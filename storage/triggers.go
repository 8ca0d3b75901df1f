package storage

import (
	"bytes"
	"fmt"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// Triggers layout:
//   - bucketTriggers: trigger id → storedTrigger JSON (the public record
//     plus the write-only webhook secret, which the HMAC check needs in
//     clear).
//   - bucketWorkflowTriggers: workflow id + trigger id → empty (a
//     workflow's triggers, one prefix scan).
//   - counter "triggers": how many triggers exist.
var bucketWorkflowTriggers = []byte("workflow_triggers")

const counterTriggers = "triggers"

func init() { registerBuckets(bucketWorkflowTriggers) }

// storedTrigger is a trigger as kept on disk: the public record plus the
// webhook secret, sealed (seal.go) so it is never in the file in plain text.
type storedTrigger struct {
	messages.Trigger
	Sealed string `json:"sealedSecret,omitempty"`
	// Secret is the plain secret in memory only: opened on read, sealed on write.
	Secret string `json:"-"`
}

func (st *storedTrigger) public() *messages.Trigger {
	t := st.Trigger
	t.HasSecret = st.Secret != "" || st.Sealed != ""
	return &t
}

// putTriggerTx seals the secret and stores the trigger; st is updated to
// what was stored (its sealed secret and hasSecret), so an answer built
// from it afterwards reflects the write.
func putTriggerTx(tx *bbolt.Tx, st *storedTrigger) error {
	sealed, err := sealTx(tx, st.Secret)
	if err != nil {
		return err
	}
	st.Sealed = sealed
	st.HasSecret = st.Secret != ""
	return putTx(tx, bucketTriggers, st.ID, st)
}

// decodeTriggerTx decodes a stored trigger and opens its secret.
func decodeTriggerTx(tx *bbolt.Tx, v []byte) (*storedTrigger, error) {
	var st storedTrigger
	if err := decode(v, &st); err != nil {
		return nil, err
	}
	secret, err := openTx(tx, st.Sealed)
	if err != nil {
		// A secret that does not open is a record that cannot be read.
		return nil, fmt.Errorf("%w: %w", errBadRecord, err)
	}
	st.Secret = secret
	return &st, nil
}

func getTriggerTx(tx *bbolt.Tx, id string) (*storedTrigger, error) {
	v := tx.Bucket(bucketTriggers).Get([]byte(id))
	if v == nil {
		return nil, messages.NotFound("trigger")
	}
	st, err := decodeTriggerTx(tx, v)
	if err != nil && skipBadTx(tx, bucketTriggers, []byte(id), err) {
		return nil, messages.NotFound("trigger")
	}
	return st, err
}

func workflowTriggerKey(workflowID, triggerID string) []byte {
	return []byte(workflowID + "/" + triggerID)
}

// CreateTrigger inserts a trigger (with its secret, "" for none) and its
// audit entry; an unknown workflow is NOT_FOUND (checked in the transaction,
// so a trigger never outlives its workflow).
func (s *Store) CreateTrigger(t *messages.Trigger, secret string, fx messages.Effects) error {
	st := storedTrigger{Trigger: *t, Secret: secret}
	return s.update(func(tx *bbolt.Tx) error {
		if _, err := getWorkflowTx(tx, st.WorkflowID); err != nil {
			return err
		}
		if err := putTriggerTx(tx, &st); err != nil {
			return err
		}
		if err := tx.Bucket(bucketWorkflowTriggers).Put(workflowTriggerKey(st.WorkflowID, st.ID), []byte{}); err != nil {
			return err
		}
		if err := addCounterTx(tx, counterTriggers, 1); err != nil {
			return err
		}
		return s.applyEffectsTx(tx, withTriggerEvent(fx, st.public(), st.CreatedAt, false))
	})
}

// UpdateTrigger applies a change to an existing trigger (NOT_FOUND when it
// is gone) and returns the new record with its secret.
func (s *Store) UpdateTrigger(id string, ch messages.TriggerChange, fx messages.Effects) (*messages.TriggerRecord, error) {
	var out *messages.TriggerRecord
	err := s.update(func(tx *bbolt.Tx) error {
		st, err := getTriggerTx(tx, id)
		if err != nil {
			return err
		}
		if ch.Config != nil {
			st.Config = *ch.Config
		}
		if ch.Secret != nil {
			st.Secret = *ch.Secret
		}
		if ch.Enabled != nil {
			st.Enabled = *ch.Enabled
		}
		if ch.Priority != nil {
			st.Priority = *ch.Priority
		}
		st.NextRunAt = ch.NextRunAt
		st.UpdatedAt = ch.UpdatedAt
		if err := putTriggerTx(tx, st); err != nil {
			return err
		}
		out = &messages.TriggerRecord{Trigger: st.public(), Secret: st.Secret}
		return s.applyEffectsTx(tx, withTriggerEvent(fx, out.Trigger, ch.UpdatedAt, false))
	})
	return out, err
}

// RecordTriggerFire records a fire's time and result and the next run on an
// existing trigger, with its audit entry. A trigger deleted meanwhile is
// NOT_FOUND (and nothing is written).
func (s *Store) RecordTriggerFire(id string, firedAt messages.Time, result string, nextRunAt messages.Time, fx messages.Effects) error {
	return s.update(func(tx *bbolt.Tx) error {
		st, err := getTriggerTx(tx, id)
		if err != nil {
			return err
		}
		if !firedAt.IsZero() {
			st.LastFiredAt = firedAt
			st.LastResult = result
		}
		st.NextRunAt = nextRunAt
		if err := putTriggerTx(tx, st); err != nil {
			return err
		}
		if !firedAt.IsZero() {
			fx = withTriggerEvent(fx, st.public(), firedAt, false)
			if strings.HasPrefix(result, "skipped") {
				// The trigger actor's results say "skipped: why" (docs/api.md's trigger.skipped event).
				fx.Events[len(fx.Events)-1].Outbound = []string{"trigger.skipped"}
			}
		}
		return s.applyEffectsTx(tx, fx)
	})
}

// DeleteTrigger removes a trigger with its audit entry (NOT_FOUND if absent).
func (s *Store) DeleteTrigger(id string, fx messages.Effects) error {
	return s.update(func(tx *bbolt.Tx) error {
		st, err := getTriggerTx(tx, id)
		if err != nil {
			return err
		}
		if err := deleteTriggerTx(tx, st); err != nil {
			return err
		}
		var at messages.Time
		if fx.Audit != nil {
			at = fx.Audit.CreatedAt
		}
		return s.applyEffectsTx(tx, withTriggerEvent(fx, st.public(), at, true))
	})
}

func deleteTriggerTx(tx *bbolt.Tx, st *storedTrigger) error {
	if err := tx.Bucket(bucketTriggers).Delete([]byte(st.ID)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketWorkflowTriggers).Delete(workflowTriggerKey(st.WorkflowID, st.ID)); err != nil {
		return err
	}
	return addCounterTx(tx, counterTriggers, -1)
}

// workflowTriggerIDsTx lists the ids of a workflow's triggers, oldest first.
func workflowTriggerIDsTx(tx *bbolt.Tx, workflowID string) []string {
	var ids []string
	prefix := []byte(workflowID + "/")
	c := tx.Bucket(bucketWorkflowTriggers).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ids = append(ids, string(k[len(prefix):]))
	}
	return ids
}

// triggersOfWorkflowTx reads a workflow's triggers' public records, newest
// first (their secrets stay sealed).
func triggersOfWorkflowTx(tx *bbolt.Tx, workflowID string) ([]*messages.Trigger, error) {
	ids := workflowTriggerIDsTx(tx, workflowID)
	triggers := tx.Bucket(bucketTriggers)
	out := make([]*messages.Trigger, 0, len(ids))
	for i := len(ids) - 1; i >= 0; i-- {
		v := triggers.Get([]byte(ids[i]))
		if v == nil {
			continue
		}
		var st storedTrigger
		if err := decode(v, &st); err != nil {
			if skipBadTx(tx, bucketTriggers, []byte(ids[i]), err) {
				continue
			}
			return nil, err
		}
		out = append(out, st.public())
	}
	return out, nil
}

// deleteTriggersOfWorkflowTx removes every trigger of a workflow and returns
// their ids; deleted (when not nil) gets each removed trigger's record.
func deleteTriggersOfWorkflowTx(tx *bbolt.Tx, workflowID string, deleted func(*messages.Trigger)) ([]string, error) {
	ids := workflowTriggerIDsTx(tx, workflowID)
	for _, id := range ids {
		st, err := getTriggerTx(tx, id)
		if err != nil {
			if messages.ErrorCode(err) == messages.CodeNotFound {
				if err := tx.Bucket(bucketWorkflowTriggers).Delete(workflowTriggerKey(workflowID, id)); err != nil {
					return nil, err
				}
				continue
			}
			return nil, err
		}
		if err := deleteTriggerTx(tx, st); err != nil {
			return nil, err
		}
		if deleted != nil {
			deleted(st.public())
		}
	}
	return ids, nil
}

// GetTrigger reads one trigger's public record (nil, nil when absent); its
// secret stays sealed.
func (s *Store) GetTrigger(id string) (*messages.Trigger, error) {
	var st storedTrigger
	var found bool
	err := s.view(func(tx *bbolt.Tx) (err error) {
		found, err = getTx(tx, bucketTriggers, id, &st)
		return err
	})
	if err != nil || !found {
		return nil, err
	}
	return st.public(), nil
}

// ListTriggers pages the triggers newest first, with the total. A
// workflow filter walks that workflow's index entries, not every trigger.
func (s *Store) ListTriggers(f messages.TriggerFilter, page messages.Page) ([]*messages.Trigger, int, error) {
	out := []*messages.Trigger{}
	var total int
	err := s.view(func(tx *bbolt.Tx) (err error) {
		if f.WorkflowID != "" {
			total = pageOfWorkflowTriggersTx(tx, f, page, func(st *storedTrigger) { out = append(out, st.public()) })
			return nil
		}
		var keep func(v []byte) bool
		if f.Type != "" {
			keep = func(v []byte) bool {
				var st storedTrigger
				return decode(v, &st) == nil && st.Type == f.Type
			}
		}
		total, err = pagePublicTx[storedTrigger](tx, bucketTriggers, page, counterTriggers, keep, &out)
		return err
	})
	return out, total, err
}

// pageOfWorkflowTriggersTx pages the triggers of f.WorkflowID (of type
// f.Type when set) newest first through the workflow index, handing each
// one of the page to each, and returns how many match.
func pageOfWorkflowTriggersTx(tx *bbolt.Tx, f messages.TriggerFilter, page messages.Page, each func(*storedTrigger)) int {
	ids := workflowTriggerIDsTx(tx, f.WorkflowID)
	triggers := tx.Bucket(bucketTriggers)
	total, skip, take := 0, page.Offset(), page.Limit
	for i := len(ids) - 1; i >= 0; i-- {
		v := triggers.Get([]byte(ids[i]))
		if v == nil {
			continue
		}
		var st storedTrigger
		if decode(v, &st) != nil || st.WorkflowID != f.WorkflowID || (f.Type != "" && st.Type != f.Type) {
			continue
		}
		total++
		if skip > 0 {
			skip--
			continue
		}
		if take > 0 {
			each(&st)
			take--
		}
	}
	return total
}

// AllTriggers reads every trigger with its secret, for the trigger actors'
// rehydration.
func (s *Store) AllTriggers() ([]*messages.TriggerRecord, error) {
	var out []*messages.TriggerRecord
	err := s.view(func(tx *bbolt.Tx) error {
		return eachRecordTx(tx, bucketTriggers, func(_, v []byte) error {
			st, err := decodeTriggerTx(tx, v)
			if err != nil {
				return err
			}
			out = append(out, &messages.TriggerRecord{Trigger: st.public(), Secret: st.Secret})
			return nil
		})
	})
	return out, err
}

// TriggerWithSecret reads one trigger with its secret, for its actor (nil,
// nil when absent).
func (s *Store) TriggerWithSecret(id string) (*messages.TriggerRecord, error) {
	var out *messages.TriggerRecord
	err := s.view(func(tx *bbolt.Tx) error {
		st, err := getTriggerTx(tx, id)
		if err != nil {
			if messages.ErrorCode(err) == messages.CodeNotFound {
				return nil
			}
			return err
		}
		out = &messages.TriggerRecord{Trigger: st.public(), Secret: st.Secret}
		return nil
	})
	return out, err
}

// withTriggerEvent adds the trigger event of t (the record as reads show
// it, made inside the transaction that changed it) to fx.
func withTriggerEvent(fx messages.Effects, t *messages.Trigger, at messages.Time, deleted bool) messages.Effects {
	evs := make([]messages.Event, 0, len(fx.Events)+1)
	evs = append(evs, fx.Events...)
	if deleted {
		evs = append(evs, messages.JSONEvent(messages.EventTrigger, t.ID, at, messages.Deleted[messages.Trigger]{Record: t, Deleted: true}, false))
	} else {
		evs = append(evs, messages.JSONEvent(messages.EventTrigger, t.ID, at, t, false))
	}
	fx.Events = evs
	return fx
}
