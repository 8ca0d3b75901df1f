package storage

import (
	"bytes"
	"sort"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// Assets layout:
//   - bucketAssets: asset id (time-ordered) → storedAsset JSON: the public
//     record (a TEXT value and a CREDENTIAL username in clear) plus the
//     SECRET value and the CREDENTIAL password sealed (seal.go), never in
//     clear.
//   - bucketAssetNames: lower-cased name → asset id (names are unique
//     case-insensitively).
//   - bucketAssetUses: asset id + "/" + version id → workflow id: the
//     versions that referenced the asset when they were published. An entry
//     counts while its version is still PUBLISHED; the others are stale
//     and are dropped when next read in a write transaction.
//   - counter "assets": how many assets exist.
var (
	bucketAssets     = []byte("assets")
	bucketAssetNames = []byte("asset_names")
	bucketAssetUses  = []byte("asset_uses")
)

const counterAssets = "assets"

func init() { registerBuckets(bucketAssets, bucketAssetNames, bucketAssetUses) }

// storedAsset is an asset as kept on disk.
type storedAsset struct {
	messages.Asset
	SealedValue    string `json:"sealedValue,omitempty"`
	SealedPassword string `json:"sealedPassword,omitempty"`
}

// public is the record every read shows: no secret, hasValue computed.
func (st *storedAsset) public() *messages.Asset {
	a := st.Asset
	switch a.Type {
	case messages.AssetText:
		a.HasValue = a.Value != nil && *a.Value != ""
		a.Username = nil
	case messages.AssetSecret:
		a.HasValue = st.SealedValue != ""
		a.Value, a.Username = nil, nil
	case messages.AssetCredential:
		a.HasValue = st.SealedPassword != ""
		a.Value = nil
		if a.Username == nil {
			empty := ""
			a.Username = &empty
		}
	}
	return &a
}

// applyTx writes the given secrets of an asset, sealed, and its TEXT value
// or username in clear (nil keeps a field).
func (st *storedAsset) applyTx(tx *bbolt.Tx, value, username, password *string) error {
	if value != nil {
		switch st.Type {
		case messages.AssetText:
			v := *value
			st.Value = &v
		case messages.AssetSecret:
			sealed, err := sealTx(tx, *value)
			if err != nil {
				return err
			}
			st.SealedValue = sealed
		}
	}
	if username != nil && st.Type == messages.AssetCredential {
		u := *username
		st.Username = &u
	}
	if password != nil && st.Type == messages.AssetCredential {
		sealed, err := sealTx(tx, *password)
		if err != nil {
			return err
		}
		st.SealedPassword = sealed
	}
	return nil
}

func getAssetTx(tx *bbolt.Tx, id string) (*storedAsset, error) {
	var st storedAsset
	found, err := getTx(tx, bucketAssets, id, &st)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, messages.NotFound("asset")
	}
	return &st, nil
}

// assetByNameTx finds an asset by name, case-insensitively (nil when none).
func assetByNameTx(tx *bbolt.Tx, name string) (*storedAsset, error) {
	id := tx.Bucket(bucketAssetNames).Get([]byte(messages.AssetKey(name)))
	if id == nil {
		return nil, nil
	}
	st, err := getAssetTx(tx, string(id))
	if messages.ErrorCode(err) == messages.CodeNotFound {
		return nil, nil
	}
	return st, err
}

// CreateAsset inserts an asset with its secrets (sealed) and its audit
// entry; a name already taken (case-insensitively) is CONFLICT. It returns
// the public record.
func (s *Store) CreateAsset(a *messages.Asset, value, username, password *string, audit *messages.AuditEntry) (*messages.Asset, error) {
	var out *messages.Asset
	err := s.update(func(tx *bbolt.Tx) error {
		names := tx.Bucket(bucketAssetNames)
		key := []byte(messages.AssetKey(a.Name))
		if names.Get(key) != nil {
			return messages.Errorf(messages.CodeConflict, "an asset named %q already exists (names are unique regardless of case)", a.Name)
		}
		if tx.Bucket(bucketAssets).Get([]byte(a.ID)) != nil {
			return messages.Errorf(messages.CodeConflict, "asset id already exists")
		}
		st := storedAsset{Asset: *a}
		st.Value, st.Username = nil, nil
		if err := st.applyTx(tx, value, username, password); err != nil {
			return err
		}
		if err := putTx(tx, bucketAssets, st.ID, &st); err != nil {
			return err
		}
		if err := names.Put(key, []byte(st.ID)); err != nil {
			return err
		}
		if err := addCounterTx(tx, counterAssets, 1); err != nil {
			return err
		}
		out = st.public()
		return appendAuditTx(tx, audit)
	})
	return out, err
}

// UpdateAsset applies a change to an asset (NOT_FOUND when absent). A new
// name taken by another asset is CONFLICT, and so is renaming an asset that
// a published version references (its graph names it; a change of case
// only is allowed). It returns the public record.
func (s *Store) UpdateAsset(id string, ch messages.AssetChange, audit *messages.AuditEntry) (*messages.Asset, error) {
	var out *messages.Asset
	err := s.update(func(tx *bbolt.Tx) error {
		st, err := getAssetTx(tx, id)
		if err != nil {
			return err
		}
		if ch.Name != nil && *ch.Name != st.Name {
			oldKey, newKey := messages.AssetKey(st.Name), messages.AssetKey(*ch.Name)
			if oldKey != newKey {
				names := tx.Bucket(bucketAssetNames)
				if names.Get([]byte(newKey)) != nil {
					return messages.Errorf(messages.CodeConflict, "an asset named %q already exists (names are unique regardless of case)", *ch.Name)
				}
				users, err := assetUsersTx(tx, st.ID)
				if err != nil {
					return err
				}
				if len(users) > 0 {
					return messages.Errorf(messages.CodeConflict, "asset %q is referenced by the published version of %s: publish them without it before renaming it",
						st.Name, quoteList(users))
				}
				if err := names.Delete([]byte(oldKey)); err != nil {
					return err
				}
				if err := names.Put([]byte(newKey), []byte(st.ID)); err != nil {
					return err
				}
			}
			st.Name = *ch.Name
		}
		if ch.Description != nil {
			st.Description = *ch.Description
		}
		if err := st.applyTx(tx, ch.Value, ch.Username, ch.Password); err != nil {
			return err
		}
		st.UpdatedAt = ch.UpdatedAt
		if err := putTx(tx, bucketAssets, st.ID, st); err != nil {
			return err
		}
		out = st.public()
		return appendAuditTx(tx, audit)
	})
	return out, err
}

// DeleteAsset removes an asset with its audit entry (NOT_FOUND if absent).
// While a published version references it, it is CONFLICT naming the
// workflows.
func (s *Store) DeleteAsset(id string, audit *messages.AuditEntry) error {
	return s.update(func(tx *bbolt.Tx) error {
		st, err := getAssetTx(tx, id)
		if err != nil {
			return err
		}
		users, err := assetUsersTx(tx, st.ID)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return messages.Errorf(messages.CodeConflict, "asset %q is referenced by the published version of %s: publish them without it (or delete them) first",
				st.Name, quoteList(users))
		}
		if err := tx.Bucket(bucketAssets).Delete([]byte(st.ID)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketAssetNames).Delete([]byte(messages.AssetKey(st.Name))); err != nil {
			return err
		}
		if err := addCounterTx(tx, counterAssets, -1); err != nil {
			return err
		}
		return appendAuditTx(tx, audit)
	})
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "workflow \"" + n + "\""
	}
	return strings.Join(q, ", ")
}

// assetUsersTx names the workflows whose published version references an
// asset (sorted), dropping the stale use entries on the way.
func assetUsersTx(tx *bbolt.Tx, assetID string) ([]string, error) {
	uses := tx.Bucket(bucketAssetUses)
	prefix := []byte(assetID + "/")
	var stale [][]byte
	seen := map[string]bool{}
	var out []string
	c := uses.Cursor()
	for k, wf := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, wf = c.Next() {
		versionID := string(k[len(prefix):])
		var v messages.Version
		found, err := getTx(tx, bucketVersions, versionID, &v)
		if err != nil {
			return nil, err
		}
		if !found || v.Status != messages.VersionPublished {
			stale = append(stale, append([]byte(nil), k...))
			continue
		}
		w, err := getWorkflowTx(tx, string(wf))
		if err != nil {
			if messages.ErrorCode(err) == messages.CodeNotFound {
				stale = append(stale, append([]byte(nil), k...))
				continue
			}
			return nil, err
		}
		if !seen[w.ID] {
			seen[w.ID] = true
			out = append(out, w.Name)
		}
	}
	for _, k := range stale {
		if err := uses.Delete(k); err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

// publishAssetsTx resolves the asset references of a version being
// published: every name must name an asset (case-insensitively) and every
// reference must fit its asset's type, else VALIDATION_ERROR naming them.
// It records the names on v (AssetNames) and the version's use of each asset.
func publishAssetsTx(tx *bbolt.Tx, v *messages.Version) error {
	refs, err := messages.AssetRefs(v.GraphJSON)
	if err != nil {
		return err
	}
	v.AssetNames = nil
	if len(refs) == 0 {
		return nil
	}
	var unknown []string
	found := map[string]*storedAsset{}
	for _, name := range messages.AssetRefNames(refs) {
		st, err := assetByNameTx(tx, name)
		if err != nil {
			return err
		}
		if st == nil {
			unknown = append(unknown, name)
			continue
		}
		found[name] = st
	}
	if len(unknown) > 0 {
		return messages.Invalid("graphJson references unknown asset(s): %s (create them with POST /api/assets first)", strings.Join(unknown, ", "))
	}
	for _, r := range refs {
		st := found[r.Name]
		switch {
		case st.Type == messages.AssetCredential && r.Field == messages.AssetFieldValue:
			return messages.Invalid("asset %q is a CREDENTIAL: reference {{asset:%s.username}} or {{asset:%s.password}}", r.Name, r.Name, r.Name)
		case st.Type != messages.AssetCredential && r.Field != messages.AssetFieldValue:
			return messages.Invalid("asset %q is a %s, it has no %s: reference it as {{asset:%s}}", r.Name, st.Type, r.Field, r.Name)
		}
	}
	v.AssetNames = messages.AssetRefNames(refs)
	uses := tx.Bucket(bucketAssetUses)
	for _, st := range found {
		if err := uses.Put([]byte(st.ID+"/"+v.ID), []byte(v.WorkflowID)); err != nil {
			return err
		}
	}
	return nil
}

// GetAsset reads one asset's public record (nil, nil when absent).
func (s *Store) GetAsset(id string) (*messages.Asset, error) {
	return getPublic(s, id, getAssetTx)
}

// ListAssets pages the assets newest first, with the total; never a secret.
func (s *Store) ListAssets(page messages.Page) ([]*messages.Asset, int, error) {
	out := []*messages.Asset{}
	var total int
	err := s.view(func(tx *bbolt.Tx) (err error) {
		total, err = pagePublicTx[storedAsset](tx, bucketAssets, page, counterAssets, nil, &out)
		return err
	})
	return out, total, err
}

// HandOverAssets reads, in one write transaction, the current values of
// the assets that an execution's version references, for the poll answer
// that hands the execution to runnerID, and appends the hand-over's audit
// entry (its details are set here: the names handed over, and those missing
// because their asset was deleted since; never a value). The execution must
// be ASSIGNED to runnerID, else FORBIDDEN (NOT_FOUND when it is gone). done
// is called from the writer once the audit entry is durable (or failed),
// with the bundle (empty, and nothing audited, when the version references
// no asset). done must not block.
func (s *Store) HandOverAssets(executionID, runnerID string, audit *messages.AuditEntry,
	done func(messages.AssetBundle, error)) {
	var bundle messages.AssetBundle
	s.updateAsync(func(tx *bbolt.Tx) error {
		bundle = messages.AssetBundle{}
		e, err := getExecutionTx(tx, executionID)
		if err != nil {
			return err
		}
		if e == nil {
			return messages.NotFound("execution")
		}
		if e.RunnerID == nil || *e.RunnerID != runnerID || e.Status != messages.ExecAssigned {
			return messages.Errorf(messages.CodeForbidden, "execution %s is not ASSIGNED to this runner", executionID)
		}
		var v messages.Version
		found, err := getTx(tx, bucketVersions, e.VersionID, &v)
		if err != nil {
			return err
		}
		if !found || len(v.AssetNames) == 0 {
			return nil
		}
		var missing []string
		for _, name := range v.AssetNames {
			st, err := assetByNameTx(tx, name)
			if err != nil {
				return err
			}
			if st == nil {
				missing = append(missing, name)
				continue
			}
			h, err := st.handedTx(tx)
			if err != nil {
				return err
			}
			bundle[name] = h
		}
		if audit == nil {
			return nil
		}
		entry := *audit
		handed := make([]string, 0, len(bundle))
		for _, name := range v.AssetNames {
			if bundle[name] != nil {
				handed = append(handed, name)
			}
		}
		entry.Details = "assets: " + strings.Join(handed, ", ")
		if len(missing) > 0 {
			entry.Details += "; missing (deleted since publishing): " + strings.Join(missing, ", ")
		}
		entry.Details += "; version " + v.ID
		return appendAuditTx(tx, &entry)
	}, func(err error) {
		if err != nil {
			done(nil, err)
			return
		}
		done(bundle, nil)
	})
}

// handedTx is the asset as a hand-over carries it: its current values,
// opened.
func (st *storedAsset) handedTx(tx *bbolt.Tx) (*messages.HandedAsset, error) {
	h := &messages.HandedAsset{Type: st.Type}
	str := func(s string) *string { return &s }
	switch st.Type {
	case messages.AssetText:
		h.Value = str("")
		if st.Value != nil {
			h.Value = str(*st.Value)
		}
	case messages.AssetSecret:
		v, err := openTx(tx, st.SealedValue)
		if err != nil {
			return nil, err
		}
		h.Value = &v
	case messages.AssetCredential:
		h.Username = str("")
		if st.Username != nil {
			h.Username = str(*st.Username)
		}
		p, err := openTx(tx, st.SealedPassword)
		if err != nil {
			return nil, err
		}
		h.Password = &p
	}
	return h, nil
}
