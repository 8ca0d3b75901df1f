package storage

import (
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// encode marshals a record for storage.
func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("storage: encode %T: %w", v, err)
	}
	return b, nil
}

// decode unmarshals a stored record. The value bytes belong to bbolt and are
// only valid inside the transaction; json.Unmarshal copies what it keeps.
// A failure is an errBadRecord (quarantine.go): readers skip the record.
func decode(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("storage: decode %T: %w: %w", v, errBadRecord, err)
	}
	return nil
}

// putTx encodes v under key in bucket.
func putTx(tx *bbolt.Tx, bucket []byte, key string, v any) error {
	b, err := encode(v)
	if err != nil {
		return err
	}
	return tx.Bucket(bucket).Put([]byte(key), b)
}

// getTx decodes the record under key into v; found is false when absent,
// or when the record cannot be decoded (it goes to quarantine).
func getTx(tx *bbolt.Tx, bucket []byte, key string, v any) (found bool, err error) {
	b := tx.Bucket(bucket).Get([]byte(key))
	if b == nil {
		return false, nil
	}
	if err := decode(b, v); err != nil {
		if skipBadTx(tx, bucket, []byte(key), err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// pageNewestFirstTx walks bucket (keys are time-ordered ids) from the newest
// key backwards, skipping page.Offset() entries that match and decoding up to
// page.Limit of them with each. keep filters (nil keeps all); it returns how
// many matched in all. Without a filter the total comes from totalCounter
// when given, so an unfiltered page costs O(offset + limit).
func pageNewestFirstTx(tx *bbolt.Tx, bucket []byte, page messages.Page, totalCounter string,
	keep func(v []byte) bool, each func(v []byte) error) (total int, err error) {
	c := tx.Bucket(bucket).Cursor()
	skip, take := page.Offset(), page.Limit
	if keep == nil && totalCounter != "" {
		total = counterTx(tx, totalCounter)
		for k, v := c.Last(); k != nil && take > 0; k, v = c.Prev() {
			if skip > 0 {
				skip--
				continue
			}
			if err := each(v); err != nil {
				if skipBadTx(tx, bucket, k, err) {
					continue
				}
				return 0, err
			}
			take--
		}
		return total, nil
	}
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		if keep != nil && !keep(v) {
			continue
		}
		total++
		if skip > 0 {
			skip--
			continue
		}
		if take > 0 {
			if err := each(v); err != nil {
				if skipBadTx(tx, bucket, k, err) {
					continue
				}
				return 0, err
			}
			take--
		}
	}
	return total, nil
}

// pagePublicTx is pageNewestFirstTx over records stored as S whose reads
// show their public view (assets, subscriptions, triggers: no secret):
// each kept value is decoded and its view appended to out.
func pagePublicTx[S any, P any, PS interface {
	*S
	public() P
}](tx *bbolt.Tx, bucket []byte, page messages.Page, totalCounter string, keep func(v []byte) bool, out *[]P) (int, error) {
	return pageNewestFirstTx(tx, bucket, page, totalCounter, keep, func(v []byte) error {
		var st S
		if err := decode(v, &st); err != nil {
			return err
		}
		*out = append(*out, PS(&st).public())
		return nil
	})
}

// getPublic reads one record through get and answers its public view; a
// record that is not there is the zero view (nil) and no error.
func getPublic[P any, PS interface{ public() P }](s *Store, id string, get func(*bbolt.Tx, string) (PS, error)) (P, error) {
	var out P
	err := s.view(func(tx *bbolt.Tx) error {
		st, err := get(tx, id)
		if err != nil {
			if messages.ErrorCode(err) == messages.CodeNotFound {
				return nil
			}
			return err
		}
		out = st.public()
		return nil
	})
	return out, err
}
