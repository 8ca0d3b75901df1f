package storage

import (
	"bytes"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// Deliveries layout.
//
//   - bucketDeliveries: "<subscription id>/<delivery id>" (delivery ids
//     are time-ordered) → storedDelivery. A subscription's deliveries are
//     one key range, newest last; deleting the subscription deletes them.
//
// The subscription record (bucketSubscriptions) holds the outbox position:
// the cursor, the id of the head delivery (the one being attempted, or the
// last one finished) and since when every attempt has failed.
var bucketDeliveries = []byte("deliveries")

func init() {
	registerBuckets(bucketDeliveries)
	registerRecordCheck(bucketDeliveries, func(_ *bbolt.Tx, _, v []byte) error { var x storedDelivery; return decode(v, &x) })
}

// DeliveriesKept is how many delivery records a subscription keeps; older
// finished ones are deleted as new ones are written.
const DeliveriesKept = 1000

type storedDelivery struct {
	messages.Delivery
	Seq uint64 `json:"seq,omitempty"`
}

func (d *storedDelivery) public() *messages.Delivery {
	out := d.Delivery
	out.EventSeq = d.Seq
	return &out
}

func deliveryKey(subID, id string) []byte { return []byte(subID + "/" + id) }

func getDeliveryTx(tx *bbolt.Tx, subID, id string) (*messages.Delivery, error) {
	var d storedDelivery
	found, err := getTx(tx, bucketDeliveries, string(deliveryKey(subID, id)), &d)
	if err != nil || !found {
		return nil, err
	}
	return d.public(), nil
}

// OutboxStates reads every subscription's delivery state (at start).
func (s *Store) OutboxStates() ([]*messages.OutboxState, error) {
	var out []*messages.OutboxState
	err := s.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketSubscriptions).ForEach(func(k, v []byte) error {
			var st storedSubscription
			if err := decode(v, &st); err != nil {
				if skipBadTx(tx, bucketSubscriptions, k, err) {
					return nil
				}
				return err
			}
			o, err := outboxStateTx(tx, &st)
			if err != nil {
				return err
			}
			out = append(out, o)
			return nil
		})
	})
	return out, err
}

// OutboxState reads one subscription's delivery state (NOT_FOUND when absent).
func (s *Store) OutboxState(id string) (*messages.OutboxState, error) {
	var out *messages.OutboxState
	err := s.view(func(tx *bbolt.Tx) error {
		st, err := getSubscriptionTx(tx, id)
		if err != nil {
			return err
		}
		out, err = outboxStateTx(tx, st)
		return err
	})
	return out, err
}

func outboxStateTx(tx *bbolt.Tx, st *storedSubscription) (*messages.OutboxState, error) {
	o := &messages.OutboxState{Sub: st.public(), Cursor: st.Cursor, FailingSince: st.FailingSince}
	if st.HeadDelivery != "" {
		h, err := getDeliveryTx(tx, st.ID, st.HeadDelivery)
		if err != nil {
			return nil, err
		}
		o.Head = h
	}
	// The window: the records of deliveries whose event is after the
	// cursor (answered out of order, or waiting for their next attempt).
	prefix := []byte(st.ID + "/")
	c := tx.Bucket(bucketDeliveries).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var d storedDelivery
		if err := decode(v, &d); err != nil {
			if skipBadTx(tx, bucketDeliveries, k, err) {
				continue
			}
			return nil, err
		}
		if d.Seq > st.Cursor {
			o.Window = append(o.Window, d.public())
		}
	}
	return o, nil
}

// SaveDelivery writes a delivery and what its outcome changes on its
// subscription (ch), in one transaction. A subscription deleted meanwhile
// is NOT_FOUND (nothing written).
func (s *Store) SaveDelivery(d *messages.Delivery, ch messages.OutboxChange) error {
	return s.update(s.saveDeliveriesFn(d.SubscriptionID, []*messages.Delivery{d}, ch))
}

// SaveDeliveriesAsync writes deliveries of one subscription and what their
// outcomes change on it (ch) in one transaction, without waiting: done
// runs on the writer goroutine once the write is durable or failed (it must
// not block). A subscription deleted meanwhile is NOT_FOUND (nothing
// written). ch.Head names ds[0].
func (s *Store) SaveDeliveriesAsync(subID string, ds []*messages.Delivery, ch messages.OutboxChange, done func(error)) {
	s.updateAsync(s.saveDeliveriesFn(subID, ds, ch), done)
}

func (s *Store) saveDeliveriesFn(subID string, ds []*messages.Delivery, ch messages.OutboxChange) func(tx *bbolt.Tx) error {
	return func(tx *bbolt.Tx) error {
		st, err := getSubscriptionTx(tx, subID)
		if err != nil {
			return err
		}
		added := 0
		for _, d := range ds {
			if d.SubscriptionID != subID {
				return fmt.Errorf("storage: delivery %s of subscription %s saved with %s", d.ID, d.SubscriptionID, subID)
			}
			key := deliveryKey(subID, d.ID)
			if tx.Bucket(bucketDeliveries).Get(key) == nil {
				added++
			}
			if err := putTx(tx, bucketDeliveries, string(key), &storedDelivery{Delivery: *d, Seq: d.EventSeq}); err != nil {
				return err
			}
		}
		if ch.Head && len(ds) > 0 {
			st.HeadDelivery = ds[0].ID
		}
		if ch.Cursor > st.Cursor {
			st.Cursor = ch.Cursor
		}
		if ch.FailingSince != nil {
			st.FailingSince = *ch.FailingSince
		}
		if ch.Disable {
			st.Enabled = false
			if len(ds) > 0 {
				st.UpdatedAt = ds[0].CreatedAt
			}
			if ch.Effects.Audit != nil {
				st.UpdatedAt = ch.Effects.Audit.CreatedAt
			}
		}
		if err := putTx(tx, bucketSubscriptions, st.ID, st); err != nil {
			return err
		}
		if s.prunesDue(subID, added) {
			if err := pruneDeliveriesTx(tx, st); err != nil {
				return err
			}
		}
		return s.applyEffectsTx(tx, ch.Effects)
	}
}

// deliveriesPruneEvery is how many delivery records a subscription gets
// between two prunes (so a busy outbox does not count its records at every
// write): it keeps at most DeliveriesKept + deliveriesPruneEvery.
const deliveriesPruneEvery = 128

// prunesDue counts added new records of subscription subID and reports
// whether its records are to be pruned now: at its first write since Open,
// then every deliveriesPruneEvery records (writer goroutine only; a
// rolled-back write only brings a prune forward).
func (s *Store) prunesDue(subID string, added int) bool {
	if added == 0 {
		return false
	}
	if s.deliveriesAdded == nil {
		s.deliveriesAdded = map[string]int{}
	}
	n, seen := s.deliveriesAdded[subID]
	n += added
	due := !seen || n >= deliveriesPruneEvery
	if due {
		n = 0
	}
	s.deliveriesAdded[subID] = n
	return due
}

// pendingMark is how a PENDING record's JSON shows it (pruning reads no
// other record).
var pendingMark = []byte(`"status":"` + messages.DeliveryPending + `"`)

// pruneDeliveriesTx deletes a subscription's oldest finished deliveries
// beyond DeliveriesKept (never the head, never a PENDING one).
func pruneDeliveriesTx(tx *bbolt.Tx, st *storedSubscription) error {
	prefix := []byte(st.ID + "/")
	head := deliveryKey(st.ID, st.HeadDelivery)
	c := tx.Bucket(bucketDeliveries).Cursor()
	n := 0
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	if n <= DeliveriesKept {
		return nil
	}
	var drop [][]byte
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && n-len(drop) > DeliveriesKept; k, v = c.Next() {
		if st.HeadDelivery != "" && bytes.Equal(k, head) {
			continue
		}
		if bytes.Contains(v, pendingMark) {
			var d storedDelivery
			if err := decode(v, &d); err == nil && d.Status == messages.DeliveryPending {
				continue
			}
		}
		drop = append(drop, append([]byte(nil), k...))
	}
	for _, k := range drop {
		if err := tx.Bucket(bucketDeliveries).Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// deleteDeliveriesTx deletes every delivery of a subscription.
func deleteDeliveriesTx(tx *bbolt.Tx, subID string) error {
	prefix := []byte(subID + "/")
	var drop [][]byte
	c := tx.Bucket(bucketDeliveries).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		drop = append(drop, append([]byte(nil), k...))
	}
	for _, k := range drop {
		if err := tx.Bucket(bucketDeliveries).Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// GetDelivery reads one delivery of a subscription (nil when absent).
func (s *Store) GetDelivery(subID, id string) (*messages.Delivery, error) {
	var out *messages.Delivery
	err := s.view(func(tx *bbolt.Tx) (err error) {
		out, err = getDeliveryTx(tx, subID, id)
		return err
	})
	return out, err
}

// ListDeliveries pages a subscription's deliveries newest first, with the
// total (NOT_FOUND when the subscription is absent).
func (s *Store) ListDeliveries(subID string, page messages.Page) ([]*messages.Delivery, int, error) {
	out := []*messages.Delivery{}
	var total int
	err := s.view(func(tx *bbolt.Tx) error {
		if _, err := getSubscriptionTx(tx, subID); err != nil {
			return err
		}
		prefix := []byte(subID + "/")
		end := []byte(subID + "0") // '0' follows '/'
		c := tx.Bucket(bucketDeliveries).Cursor()
		var k, v []byte
		if after, _ := c.Seek(end); after == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		skip, take := page.Offset(), page.Limit
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
			total++
			if skip > 0 {
				skip--
				continue
			}
			if take > 0 {
				var d storedDelivery
				if err := decode(v, &d); err != nil {
					continue
				}
				out = append(out, d.public())
				take--
			}
		}
		return nil
	})
	return out, total, err
}
