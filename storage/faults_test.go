//go:build linux

package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// A full disk, simulated without root or a tiny file system: the database
// file descriptor is swapped for /dev/full (every write fails with ENOSPC),
// then swapped back (space freed). bbolt reads through its mmap of the real
// file meanwhile, so reads keep working.

// diskFull makes every write to the store's file fail until the returned
// function is called.
func diskFull(t *testing.T, s *Store) (free func()) {
	t.Helper()
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("cannot simulate a full disk: %v", err)
	}
	defer full.Close()
	// Every descriptor on the file: bbolt's and the preallocator's.
	saved := map[int]int{}
	restore := func() {
		for fd, dup := range saved {
			if err := syscall.Dup3(dup, fd, syscall.O_CLOEXEC); err != nil {
				t.Errorf("restore the database fd: %v", err)
			}
			syscall.Close(dup)
		}
	}
	for _, fd := range fileFDs(t, s.Path()) {
		dup, err := syscall.Dup(fd)
		if err != nil {
			restore()
			t.Fatalf("dup: %v", err)
		}
		if err := syscall.Dup3(int(full.Fd()), fd, syscall.O_CLOEXEC); err != nil {
			syscall.Close(dup)
			restore()
			t.Skipf("cannot simulate a full disk: dup3: %v", err)
		}
		saved[fd] = dup
	}
	var once sync.Once
	free = func() { once.Do(restore) }
	t.Cleanup(free)
	return free
}

// fileFDs finds the descriptors this process holds open on path.
func fileFDs(t *testing.T, path string) []int {
	t.Helper()
	want, err := filepath.EvalSymlinks(path)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot simulate a full disk: %v", err)
	}
	var fds []int
	for _, e := range entries {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil || target != want {
			continue
		}
		var fd int
		if _, err := fmt.Sscan(e.Name(), &fd); err == nil {
			fds = append(fds, fd)
		}
	}
	if len(fds) == 0 {
		t.Skipf("cannot simulate a full disk: no open descriptor on %s", want)
	}
	return fds
}

// faultUser is a user record for these tests.
func faultUser(i int) *messages.User {
	now := messages.TimeOf(time.Unix(1_700_000_000+int64(i), 0))
	return &messages.User{
		ID: fmt.Sprintf("user-%04d", i), Email: fmt.Sprintf("u%d@example.com", i), Name: "U",
		Role: messages.RoleOperator, PasswordHash: "$2a$10$x", CreatedAt: now, UpdatedAt: now,
	}
}

// bucketFaults is a scratch bucket for multi-key writes.
var bucketFaults = []byte("faults_test")

func putPair(s *Store, k string) error {
	return s.update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketFaults)
		if err != nil {
			return err
		}
		// Two keys and a counter in one transaction: all or nothing.
		if err := b.Put([]byte(k+"/a"), []byte("1")); err != nil {
			return err
		}
		if err := b.Put([]byte(k+"/b"), make([]byte, 64<<10)); err != nil {
			return err
		}
		return addCounterTx(tx, "faults_test", 1)
	})
}

func pairState(t *testing.T, s *Store, k string) (a, b bool) {
	t.Helper()
	if err := s.view(func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bucketFaults)
		if bk == nil {
			return nil
		}
		a, b = bk.Get([]byte(k+"/a")) != nil, bk.Get([]byte(k+"/b")) != nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return a, b
}

func TestFullDiskFailsCommitsAtomically(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	for i := 0; i < 3; i++ {
		if err := s.CreateUser(faultUser(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := putPair(s, "before"); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(); err != nil {
		t.Fatalf("ping before: %v", err)
	}
	failuresBefore := s.Stats().Failures.Load()

	free := diskFull(t, s)
	// Every write fails, single or batched, with an error (never silently).
	if err := s.CreateUser(faultUser(10), nil); err == nil {
		t.Fatal("a write on a full disk succeeded")
	}
	if err := putPair(s, "during"); err == nil {
		t.Fatal("a multi-key write on a full disk succeeded")
	}
	errs := make(chan error, 20)
	for i := 0; i < cap(errs); i++ {
		go func(i int) { errs <- s.CreateUser(faultUser(100+i), nil) }(i)
	}
	for i := 0; i < cap(errs); i++ {
		if err := <-errs; err == nil {
			t.Fatal("a batched write on a full disk succeeded")
		}
	}
	if s.Stats().Failures.Load() <= failuresBefore {
		t.Fatal("failed commits are not counted")
	}
	if err := s.Ping(); err == nil {
		t.Fatal("ping is healthy while commits fail")
	}
	// Reads go on and see nothing of the failed writes.
	if u, err := s.GetUser(faultUser(1).ID); err != nil || u == nil {
		t.Fatalf("read during the fault: %v %v", u, err)
	}
	if u, _ := s.GetUser(faultUser(10).ID); u != nil {
		t.Fatal("a failed write is visible")
	}
	if a, b := pairState(t, s, "during"); a || b {
		t.Fatalf("half a failed transaction is visible: a=%v b=%v", a, b)
	}

	// Space comes back: writes work again and health recovers with them.
	free()
	if err := s.CreateUser(faultUser(11), nil); err != nil {
		t.Fatalf("write after the disk was freed: %v", err)
	}
	if err := putPair(s, "after"); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(); err != nil {
		t.Fatalf("ping after recovery: %v", err)
	}

	// Close and reopen: exactly the acknowledged writes, and a sound file.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openTest(t, dir)
	defer s2.Close()
	for i, want := range map[int]bool{0: true, 1: true, 2: true, 10: false, 11: true, 100: false, 119: false} {
		u, err := s2.GetUser(faultUser(i).ID)
		if err != nil {
			t.Fatal(err)
		}
		if (u != nil) != want {
			t.Errorf("user %d present=%v after reopen, want %v", i, u != nil, want)
		}
	}
	if byEmail, _ := s2.UserByEmail(faultUser(10).Email); byEmail != nil {
		t.Error("the email index of a failed write survived")
	}
	for k, want := range map[string]bool{"before": true, "during": false, "after": true} {
		if a, b := pairState(t, s2, k); a != want || b != want {
			t.Errorf("pair %s after reopen: a=%v b=%v, want %v", k, a, b, want)
		}
	}
	if n, err := s2.Counter("faults_test"); err != nil || n != 2 {
		t.Errorf("counter after reopen = %d, %v; want 2 (failed increments must not count)", n, err)
	}
	if users, total, err := s2.ListUsers(messages.Page{Page: 1, Limit: 200}); err != nil || total != len(users) || total != 4 {
		t.Errorf("users after reopen: %d listed, total %d, err %v; want 4", len(users), total, err)
	}
	checkConsistent(t, s2)
}

// checkConsistent runs bbolt's page-level consistency check.
func checkConsistent(t *testing.T, s *Store) {
	t.Helper()
	if err := s.view(func(tx *bbolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}); err != nil {
		t.Fatalf("database inconsistent: %v", err)
	}
}

func TestFullDiskDuringOpenIsAnError(t *testing.T) {
	// A data dir on a read-only file system (or one the process may not
	// write) refuses to open with an error naming the file, rather than
	// serving without durability.
	if os.Geteuid() == 0 {
		t.Skip("root ignores permission bits; covered by the /dev/full test instead")
	}
	dir := t.TempDir()
	s := openTest(t, dir)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, FileName), 0o400); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(filepath.Join(dir, FileName), 0o600)
	if _, err := Open(dir, Options{LockTimeout: time.Second}); err == nil {
		t.Fatal("opening a read-only database file for writing succeeded")
	}
}
