package storage

import (
	"strings"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// storedUser is a user as kept on disk: the public record plus the fields
// that never leave the server.
type storedUser struct {
	messages.User
	PasswordHash  string `json:"passwordHash"`
	SessionEpoch  int64  `json:"sessionEpoch"`
	EpochSurvivor string `json:"epochSurvivor,omitempty"`
}

func toStoredUser(u *messages.User) storedUser {
	return storedUser{User: *u, PasswordHash: u.PasswordHash, SessionEpoch: u.SessionEpoch, EpochSurvivor: u.EpochSurvivor}
}

func (su *storedUser) user() *messages.User {
	u := su.User
	u.PasswordHash, u.SessionEpoch, u.EpochSurvivor = su.PasswordHash, su.SessionEpoch, su.EpochSurvivor
	return &u
}

// NormalizeEmail is the form emails are compared in (case-insensitive).
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// CreateUser inserts a new user and, when given, its audit entry, in one
// durable transaction. A duplicate email (case-insensitive) is CONFLICT.
func (s *Store) CreateUser(u *messages.User, audit *messages.AuditEntry) error {
	su := toStoredUser(u)
	return s.update(func(tx *bbolt.Tx) error {
		emails := tx.Bucket(bucketEmails)
		key := []byte(NormalizeEmail(u.Email))
		if emails.Get(key) != nil {
			return messages.Errorf(messages.CodeConflict, "a user with this email already exists")
		}
		if err := emails.Put(key, []byte(u.ID)); err != nil {
			return err
		}
		if err := putTx(tx, bucketUsers, u.ID, &su); err != nil {
			return err
		}
		if err := addCounterTx(tx, counterUsers, 1); err != nil {
			return err
		}
		return appendAuditTx(tx, audit)
	})
}

// SaveUser overwrites an existing user (email unchanged) with its audit entry.
func (s *Store) SaveUser(u *messages.User, audit *messages.AuditEntry) error {
	su := toStoredUser(u)
	return s.update(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketUsers).Get([]byte(u.ID)) == nil {
			return messages.NotFound("user")
		}
		if err := putTx(tx, bucketUsers, u.ID, &su); err != nil {
			return err
		}
		return appendAuditTx(tx, audit)
	})
}

// GetUser reads one user (nil, nil when absent).
func (s *Store) GetUser(id string) (*messages.User, error) {
	var su storedUser
	var found bool
	err := s.view(func(tx *bbolt.Tx) (err error) {
		found, err = getTx(tx, bucketUsers, id, &su)
		return err
	})
	if err != nil || !found {
		return nil, err
	}
	return su.user(), nil
}

// UserByEmail finds a user by email, case-insensitively (nil, nil when absent).
func (s *Store) UserByEmail(email string) (*messages.User, error) {
	var su storedUser
	var found bool
	err := s.view(func(tx *bbolt.Tx) (err error) {
		id := tx.Bucket(bucketEmails).Get([]byte(NormalizeEmail(email)))
		if id == nil {
			return nil
		}
		found, err = getTx(tx, bucketUsers, string(id), &su)
		return err
	})
	if err != nil || !found {
		return nil, err
	}
	return su.user(), nil
}

// AllUsers returns every user, oldest first (the accounts actor loads them
// at start; the user count is small).
func (s *Store) AllUsers() ([]*messages.User, error) {
	var out []*messages.User
	err := s.view(func(tx *bbolt.Tx) error {
		return eachRecordTx(tx, bucketUsers, func(_, v []byte) error {
			var su storedUser
			if err := decode(v, &su); err != nil {
				return err
			}
			out = append(out, su.user())
			return nil
		})
	})
	return out, err
}

// ListUsers returns one page of users, newest first, and the total.
func (s *Store) ListUsers(page messages.Page) ([]*messages.User, int, error) {
	var out []*messages.User
	var total int
	err := s.view(func(tx *bbolt.Tx) (err error) {
		total, err = pageNewestFirstTx(tx, bucketUsers, page, counterUsers, nil, func(v []byte) error {
			var su storedUser
			if err := decode(v, &su); err != nil {
				return err
			}
			out = append(out, su.user())
			return nil
		})
		return err
	})
	return out, total, err
}
