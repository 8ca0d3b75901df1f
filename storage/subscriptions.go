package storage

import (
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// Subscriptions layout.
//
//   - bucketSubscriptions: subscription id (time-ordered) → storedSubscription:
//     the public record, its secret and (for 24 h after a rotation) the
//     previous one, both sealed, and its outbox cursor: the sequence of the
//     last event it has passed. Events above the lowest cursor are never
//     pruned (SetEventsFloor), so the outbox is the event log itself.
var bucketSubscriptions = []byte("subscriptions")

func init() {
	registerBuckets(bucketSubscriptions)
	registerRecordCheck(bucketSubscriptions, func(_ *bbolt.Tx, _, v []byte) error { var x storedSubscription; return decode(v, &x) })
}

// counterSubscriptions counts the stored subscriptions.
const counterSubscriptions = "subscriptions"

// SubscriptionPreviousSecretFor is how long a rotated-out secret keeps
// signing beside the new one.
const SubscriptionPreviousSecretFor = 24 * 60 * 60 * 1000 // ms

type storedSubscription struct {
	messages.Subscription
	SealedSecret   string        `json:"sealedSecret"`
	SealedPrevious string        `json:"sealedPrevious,omitempty"`
	PreviousUntil  messages.Time `json:"previousUntil,omitempty"`
	Cursor         uint64        `json:"cursor"`
	// HeadDelivery and FailingSince are the outbox position besides the
	// cursor (deliveries.go).
	HeadDelivery string        `json:"headDelivery,omitempty"`
	FailingSince messages.Time `json:"failingSince,omitempty"`
}

func (st *storedSubscription) public() *messages.Subscription {
	s := st.Subscription
	s.Secret = ""
	s.Events = append([]string(nil), st.Events...)
	return &s
}

func getSubscriptionTx(tx *bbolt.Tx, id string) (*storedSubscription, error) {
	var st storedSubscription
	found, err := getTx(tx, bucketSubscriptions, id, &st)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, messages.NotFound("subscription")
	}
	return &st, nil
}

// CreateSubscription stores a new subscription with its secret (sealed);
// its outbox starts after the last event numbered so far.
func (s *Store) CreateSubscription(sub *messages.Subscription, secret string, fx messages.Effects) error {
	err := s.update(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketSubscriptions).Get([]byte(sub.ID)) != nil {
			return messages.Errorf(messages.CodeConflict, "subscription id exists")
		}
		sealed, err := sealTx(tx, secret)
		if err != nil {
			return err
		}
		st := storedSubscription{Subscription: *sub, SealedSecret: sealed, Cursor: s.events.next - 1}
		st.Secret = ""
		if err := putTx(tx, bucketSubscriptions, st.ID, &st); err != nil {
			return err
		}
		if err := addCounterTx(tx, counterSubscriptions, 1); err != nil {
			return err
		}
		return s.applyEffectsTx(tx, fx)
	})
	return err
}

// UpdateSubscription applies a change and returns the new record.
func (s *Store) UpdateSubscription(id string, ch messages.SubscriptionChange, fx messages.Effects) (*messages.Subscription, error) {
	var out *messages.Subscription
	err := s.update(func(tx *bbolt.Tx) error {
		st, err := getSubscriptionTx(tx, id)
		if err != nil {
			return err
		}
		if ch.URL != nil {
			st.URL = *ch.URL
		}
		if ch.Events != nil {
			st.Events = append([]string(nil), ch.Events...)
		}
		if ch.Description != nil {
			st.Description = *ch.Description
		}
		if ch.Enabled != nil {
			if *ch.Enabled && !st.Enabled {
				st.FailingSince = 0 // re-enabled: the 3 days count afresh
			}
			st.Enabled = *ch.Enabled
		}
		st.UpdatedAt = ch.UpdatedAt
		if err := putTx(tx, bucketSubscriptions, st.ID, st); err != nil {
			return err
		}
		out = st.public()
		return s.applyEffectsTx(tx, fx)
	})
	return out, err
}

// RotateSubscriptionSecret replaces the secret; the previous one is kept
// (sealed) until now + SubscriptionPreviousSecretFor.
func (s *Store) RotateSubscriptionSecret(id, secret string, now messages.Time, fx messages.Effects) (*messages.Subscription, error) {
	var out *messages.Subscription
	err := s.update(func(tx *bbolt.Tx) error {
		st, err := getSubscriptionTx(tx, id)
		if err != nil {
			return err
		}
		sealed, err := sealTx(tx, secret)
		if err != nil {
			return err
		}
		st.SealedPrevious, st.PreviousUntil = st.SealedSecret, now+SubscriptionPreviousSecretFor
		st.SealedSecret, st.UpdatedAt = sealed, now
		if err := putTx(tx, bucketSubscriptions, st.ID, st); err != nil {
			return err
		}
		out = st.public()
		return s.applyEffectsTx(tx, fx)
	})
	return out, err
}

// DeleteSubscription removes a subscription (its outbox cursor with it).
func (s *Store) DeleteSubscription(id string, fx messages.Effects) error {
	err := s.update(func(tx *bbolt.Tx) error {
		if _, err := getSubscriptionTx(tx, id); err != nil {
			return err
		}
		if err := tx.Bucket(bucketSubscriptions).Delete([]byte(id)); err != nil {
			return err
		}
		if err := deleteDeliveriesTx(tx, id); err != nil {
			return err
		}
		if err := addCounterTx(tx, counterSubscriptions, -1); err != nil {
			return err
		}
		return s.applyEffectsTx(tx, fx)
	})
	return err
}

// GetSubscription reads one subscription's public record (nil when absent).
func (s *Store) GetSubscription(id string) (*messages.Subscription, error) {
	return getPublic(s, id, getSubscriptionTx)
}

// ListSubscriptions pages the subscriptions newest first, with the total.
func (s *Store) ListSubscriptions(page messages.Page) ([]*messages.Subscription, int, error) {
	out := []*messages.Subscription{}
	var total int
	err := s.view(func(tx *bbolt.Tx) (err error) {
		total, err = pagePublicTx[storedSubscription](tx, bucketSubscriptions, page, counterSubscriptions, nil, &out)
		return err
	})
	return out, total, err
}

// SubscriptionSecrets opens a subscription's signing secrets: the current
// one, and the previous one while it still signs (at now).
func (s *Store) SubscriptionSecrets(id string, now messages.Time) (current, previous string, err error) {
	current, previous, until, err := s.SubscriptionKeys(id)
	if now >= until {
		previous = ""
	}
	return current, previous, err
}

// SubscriptionKeys opens a subscription's signing secrets: the current one
// and the previous one with the time it stops signing ("" and 0 without
// one), so that a delivery actor can keep them between attempts.
func (s *Store) SubscriptionKeys(id string) (current, previous string, previousUntil messages.Time, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		st, err := getSubscriptionTx(tx, id)
		if err != nil {
			return err
		}
		if current, err = openTx(tx, st.SealedSecret); err != nil {
			return fmt.Errorf("%w: %w", errBadRecord, err)
		}
		if st.SealedPrevious != "" {
			if previous, err = openTx(tx, st.SealedPrevious); err != nil {
				return fmt.Errorf("%w: %w", errBadRecord, err)
			}
			previousUntil = st.PreviousUntil
		}
		return nil
	})
	if err != nil {
		return "", "", 0, err
	}
	return current, previous, previousUntil, nil
}
