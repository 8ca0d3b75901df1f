package storage

import (
	"strings"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// Runner buckets and keys (owner: this file):
//
//	runners       runner id → storedRunner (JSON)
//	runner_names  lower-cased trimmed name → runner id (unique names)
//	runner_keys   machine key → runner id
var (
	bucketRunnerNames = []byte("runner_names")
	bucketRunnerKeys  = []byte("runner_keys")
)

// counterRunners counts registered runners.
const counterRunners = "runners"

func init() { registerBuckets(bucketRunnerNames, bucketRunnerKeys) }

// storedRunner is a runner as kept on disk: the public record plus the
// credential fields that never leave the server.
type storedRunner struct {
	messages.Runner
	SecretHash  string `json:"secretHash"`
	SecretEpoch int64  `json:"secretEpoch"`
}

func toStoredRunner(r *messages.Runner) storedRunner {
	return storedRunner{Runner: *r, SecretHash: r.SecretHash, SecretEpoch: r.SecretEpoch}
}

func (sr *storedRunner) runner() *messages.Runner {
	r := sr.Runner
	r.SecretHash, r.SecretEpoch = sr.SecretHash, sr.SecretEpoch
	return &r
}

// NormalizeRunnerName is the form runner names are compared in.
func NormalizeRunnerName(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// CreateRunner inserts a new runner and its audit entry in one durable
// transaction. A name already taken (case-insensitive) is CONFLICT.
func (s *Store) CreateRunner(r *messages.Runner, fx messages.Effects) error {
	return s.update(s.createRunnerFn(r, fx))
}

// CreateRunnerAsync is CreateRunner without the wait: done runs (on the
// writer's goroutine) once the runner is durable or failed, so many
// registrations share one commit.
func (s *Store) CreateRunnerAsync(r *messages.Runner, fx messages.Effects, done func(error)) {
	s.updateAsync(s.createRunnerFn(r, fx), done)
}

func (s *Store) createRunnerFn(r *messages.Runner, fx messages.Effects) func(tx *bbolt.Tx) error {
	sr := toStoredRunner(r)
	return func(tx *bbolt.Tx) error {
		names := tx.Bucket(bucketRunnerNames)
		key := []byte(NormalizeRunnerName(r.Name))
		if id := names.Get(key); id != nil && string(id) != r.ID {
			return messages.Errorf(messages.CodeConflict, "a runner named %q already exists", strings.TrimSpace(r.Name))
		}
		if tx.Bucket(bucketRunners).Get([]byte(r.ID)) != nil {
			return nil // applied already (a batch retry)
		}
		if err := names.Put(key, []byte(r.ID)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketRunnerKeys).Put([]byte(r.MachineKey), []byte(r.ID)); err != nil {
			return err
		}
		if err := putTx(tx, bucketRunners, r.ID, &sr); err != nil {
			return err
		}
		if err := addCounterTx(tx, counterRunners, 1); err != nil {
			return err
		}
		return s.applyEffectsTx(tx, fx)
	}
}

// SaveRunner overwrites an existing runner (name and key unchanged) with an
// change's effects, durably. An absent runner is NOT_FOUND.
func (s *Store) SaveRunner(r *messages.Runner, fx messages.Effects) error {
	return s.update(s.saveRunnerFn(r, fx))
}

// SaveRunnerAsync is SaveRunner without the wait (periodic heartbeat
// flushes): done runs once the write is durable or failed.
func (s *Store) SaveRunnerAsync(r *messages.Runner, fx messages.Effects, done func(error)) {
	s.updateAsync(s.saveRunnerFn(r, fx), done)
}

// The record is encoded in the caller's goroutine: the writer only checks
// and puts (it is the bottleneck of a busy server, docs/performance.md).
func (s *Store) saveRunnerFn(r *messages.Runner, fx messages.Effects) func(tx *bbolt.Tx) error {
	id := []byte(r.ID)
	v := appendStoredRunner(make([]byte, 0, 384), r)
	return func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketRunners)
		if b.Get(id) == nil {
			return messages.NotFound("runner")
		}
		if err := b.Put(id, v); err != nil {
			return err
		}
		return s.applyEffectsTx(tx, fx)
	}
}

// DeleteRunner removes a runner, its name and key, with the change's effects.
func (s *Store) DeleteRunner(id string, fx messages.Effects) error {
	return s.update(func(tx *bbolt.Tx) error {
		var sr storedRunner
		found, err := getTx(tx, bucketRunners, id, &sr)
		if err != nil {
			return err
		}
		if !found {
			return messages.NotFound("runner")
		}
		names := tx.Bucket(bucketRunnerNames)
		nk := []byte(NormalizeRunnerName(sr.Name))
		if string(names.Get(nk)) == id {
			if err := names.Delete(nk); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketRunnerKeys).Delete([]byte(sr.MachineKey)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketRunners).Delete([]byte(id)); err != nil {
			return err
		}
		if err := addCounterTx(tx, counterRunners, -1); err != nil {
			return err
		}
		return s.applyEffectsTx(tx, fx)
	})
}

// GetRunner reads one runner (nil, nil when absent).
func (s *Store) GetRunner(id string) (*messages.Runner, error) {
	var sr storedRunner
	var found bool
	err := s.view(func(tx *bbolt.Tx) (err error) {
		found, err = getTx(tx, bucketRunners, id, &sr)
		return err
	})
	if err != nil || !found {
		return nil, err
	}
	return sr.runner(), nil
}

// AllRunners returns every runner, oldest first (the runners supervisor
// loads them at start).
func (s *Store) AllRunners() ([]*messages.Runner, error) {
	var out []*messages.Runner
	err := s.view(func(tx *bbolt.Tx) error {
		return eachRecordTx(tx, bucketRunners, func(_, v []byte) error {
			var sr storedRunner
			if err := decode(v, &sr); err != nil {
				return err
			}
			out = append(out, sr.runner())
			return nil
		})
	})
	return out, err
}

// ListRunners returns one page of runners matching f, newest first, and
// the total. Secrets are cleared.
func (s *Store) ListRunners(f messages.RunnerFilter, page messages.Page) ([]*messages.Runner, int, error) {
	var out []*messages.Runner
	var total int
	var keep func(v []byte) bool
	if f.Status != "" || f.Type != "" {
		keep = func(v []byte) bool {
			var probe struct {
				Status messages.RunnerStatus `json:"status"`
				Type   messages.RunnerType   `json:"type"`
			}
			if decode(v, &probe) != nil {
				return false
			}
			return (f.Status == "" || probe.Status == f.Status) && (f.Type == "" || probe.Type == f.Type)
		}
	}
	err := s.view(func(tx *bbolt.Tx) (err error) {
		total, err = pageNewestFirstTx(tx, bucketRunners, page, counterRunners, keep, func(v []byte) error {
			var sr storedRunner
			if err := decode(v, &sr); err != nil {
				return err
			}
			r := sr.Runner
			r.SecretHash, r.SecretEpoch = "", 0
			r.Labels = messages.LabelsOrEmpty(r.Labels)
			out = append(out, &r)
			return nil
		})
		return err
	})
	return out, total, err
}

// VersionGraph returns the graph JSON of a version ("" when absent), which
// a poll answer hands to the runner.
func (s *Store) VersionGraph(versionID string) (string, error) {
	v, err := s.GetVersion(versionID)
	if err != nil || v == nil {
		return "", err
	}
	return v.GraphJSON, nil
}
