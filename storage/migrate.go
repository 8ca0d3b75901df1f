package storage

import (
	"fmt"

	"go.etcd.io/bbolt"
)

// Schema steps. Open runs, in one transaction with the bucket creation,
// every step from the file's schema version up to SchemaVersion, then
// stores SchemaVersion. A step rewrites what the new layout reads
// differently; new buckets need no step (Open creates every registered
// bucket). Each release that changes what is stored adds one step and a
// fixture written by the release before it (cmd/exekra/testdata/releases/,
// checked by TestE2EUpgradeFromEveryRelease).
//
// History:
//
//	1  the first release.
//	2  buckets of events, quarantined records, API keys, event subscriptions
//	   and assets; new optional fields on runners (labels), workflows and
//	   executions (runnerLabels). Every schema-1 record reads unchanged.
var schemaSteps = map[uint64]func(tx *bbolt.Tx) error{
	// 1 → 2: additive only (new buckets are created on open; new fields
	// are optional in the codecs), so nothing is rewritten.
	1: func(*bbolt.Tx) error { return nil },
}

// migrateTx brings a database at schema from up to SchemaVersion.
func migrateTx(tx *bbolt.Tx, from uint64) error {
	for v := from; v < SchemaVersion; v++ {
		step, ok := schemaSteps[v]
		if !ok {
			return fmt.Errorf("no upgrade step from schema %d", v)
		}
		if err := step(tx); err != nil {
			return fmt.Errorf("upgrade schema %d → %d: %w", v, v+1, err)
		}
	}
	return nil
}
