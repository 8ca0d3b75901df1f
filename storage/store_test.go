package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// openTest opens a store in a temp dir and closes it at cleanup.
func openTest(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func testUser(email string, at time.Time) *messages.User {
	return &messages.User{ID: messages.NewID(at), Email: email, Name: "N", Role: messages.RoleOperator,
		CreatedAt: messages.TimeOf(at), PasswordHash: "$2a$hash", SessionEpoch: 1}
}

func TestUsersCloseAndReopen(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	now := time.Now()
	u := testUser("Mixed@Example.com", now)
	audit := &messages.AuditEntry{ID: messages.NewID(now), Action: messages.AuditUserCreated, CreatedAt: messages.TimeOf(now)}
	if err := s.CreateUser(u, audit); err != nil {
		t.Fatal(err)
	}
	dup := testUser("mixed@example.COM", now)
	if err := s.CreateUser(dup, nil); messages.ErrorCode(err) != messages.CodeConflict {
		t.Fatalf("duplicate email: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir)
	got, err := s.UserByEmail("MIXED@example.com")
	if err != nil || got == nil {
		t.Fatalf("after reopen: %v %v", got, err)
	}
	if got.PasswordHash != "$2a$hash" || got.SessionEpoch != 1 || got.ID != u.ID {
		t.Fatalf("stored fields lost: %+v", got)
	}
	users, total, err := s.ListUsers(messages.Page{Page: 1, Limit: 10})
	if err != nil || total != 1 || len(users) != 1 {
		t.Fatalf("list: %v %d %v", users, total, err)
	}
	entries, total, err := s.ListAudit(messages.Page{Page: 1, Limit: 10})
	if err != nil || total != 1 || entries[0].Action != messages.AuditUserCreated {
		t.Fatalf("audit: %v %d %v", entries, total, err)
	}
}

func TestGroupCommitManyWritersAllDurable(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	const writers, each = 64, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				now := time.Now()
				errs <- s.AppendAudit(&messages.AuditEntry{ID: messages.NewID(now), Action: fmt.Sprintf("w%d-%d", w, i), CreatedAt: messages.TimeOf(now)})
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Writes.Load() != writers*each {
		t.Fatalf("writes %d", st.Writes.Load())
	}
	if st.Commits.Load() >= writers*each {
		t.Errorf("no batching: %d commits for %d writes", st.Commits.Load(), writers*each)
	}
	t.Logf("%d writes in %d commits (max batch %d)", st.Writes.Load(), st.Commits.Load(), st.MaxBatch.Load())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir)
	if n, _ := s.Counter(counterAudit); n != writers*each {
		t.Fatalf("after reopen: %d entries", n)
	}
}

func TestBatchIsolatesFailingWrite(t *testing.T) {
	s := openTest(t, t.TempDir())
	// One batch of three writes, handed to commit as the writer would: the
	// middle one fails after writing, so the batch must be retried without
	// it. (The writer is idle; bbolt serialises the transaction anyway.)
	bad := errors.New("refused")
	var batch []*writeReq
	for _, k := range []string{"a", "b", "c"} {
		k := k
		batch = append(batch, &writeReq{done: make(chan error, 1), fn: func(tx *bbolt.Tx) error {
			if err := tx.Bucket(bucketMeta).Put([]byte("test-"+k), []byte(k)); err != nil {
				return err
			}
			if k == "b" {
				return bad
			}
			return nil
		}})
	}
	commits := s.Stats().Commits.Load()
	s.commit(batch)
	for i, r := range batch {
		err := <-r.done
		if want := i == 1; (err != nil) != want || (want && !errors.Is(err, bad)) {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if n := s.Stats().Commits.Load() - commits; n != 2 {
		t.Fatalf("%d transactions, want 2 (the batch, then its retry without the failing write)", n)
	}
	_ = s.view(func(tx *bbolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if m.Get([]byte("test-a")) == nil || m.Get([]byte("test-c")) == nil || m.Get([]byte("test-b")) != nil {
			t.Fatal("the failing write leaked or the others were lost")
		}
		return nil
	})
}

func TestWritesAfterCloseFail(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if err := s.AppendAudit(&messages.AuditEntry{ID: "x"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal("second close must be a no-op")
	}
}

func TestOpenRefusesLockedAndTornFiles(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	_ = s
	if _, err := Open(dir, Options{LockTimeout: 100 * time.Millisecond}); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("second open: %v", err)
	}
	torn := t.TempDir()
	if err := os.WriteFile(filepath.Join(torn, FileName), []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(torn, Options{}); err == nil {
		t.Fatal("a torn file must be refused")
	}
	garbage := t.TempDir()
	if err := os.WriteFile(filepath.Join(garbage, FileName), make([]byte, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(garbage, Options{}); err == nil {
		t.Fatal("a zeroed file must be refused")
	}
}

func TestJWTSecretAndRevocationsPersist(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	a, err := s.JWTSecret()
	if err != nil || len(a) < 32 {
		t.Fatalf("secret: %v", err)
	}
	now := time.Now()
	if err := s.RevokeToken("live", now.Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken("old", now.Add(-time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveLicense("lic-text", true, messages.Effects{}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveLicense("other", true, messages.Effects{}); messages.ErrorCode(err) != messages.CodeConflict {
		t.Fatalf("second activation: %v", err)
	}
	_ = s.Close()
	s = openTest(t, dir)
	b, _ := s.JWTSecret()
	if string(a) != string(b) {
		t.Fatal("jwt secret changed across reopen")
	}
	revoked, err := s.RevokedTokens(now)
	if err != nil || len(revoked) != 1 {
		t.Fatalf("revoked: %v %v", revoked, err)
	}
	if _, ok := revoked["live"]; !ok {
		t.Fatal("live revocation lost")
	}
	if text, _ := s.License(); text != "lic-text" {
		t.Fatalf("license %q", text)
	}
	if err := s.Ping(); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkGroupCommit(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			now := time.Now()
			if err := s.AppendAudit(&messages.AuditEntry{ID: messages.NewID(now), Action: "bench", CreatedAt: messages.TimeOf(now)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(s.Stats().Writes.Load())/float64(s.Stats().Commits.Load()), "writes/commit")
}
