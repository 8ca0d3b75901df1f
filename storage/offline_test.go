package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// seedUsers opens a store in dir, creates n users and closes it.
func seedUsers(t *testing.T, dir string, n int) []*messages.User {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var users []*messages.User
	now := time.Now()
	for i := 0; i < n; i++ {
		u := &messages.User{ID: messages.NewID(now), Email: fmt.Sprintf("u%d-%d@example.com", i, now.UnixNano()), Name: "U", Role: messages.RoleOperator, CreatedAt: messages.TimeOf(now)}
		if err := s.CreateUser(u, nil); err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	return users
}

// expectUsers opens dir and checks every user is there.
func expectUsers(t *testing.T, dir string, users []*messages.User) {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, u := range users {
		got, err := s.GetUser(u.ID)
		if err != nil || got == nil || got.Email != u.Email {
			t.Fatalf("user %s after restore: %v %v", u.ID, got, err)
		}
	}
}

func TestBackupRestoreOffline(t *testing.T) {
	src := filepath.Join(t.TempDir(), "data")
	users := seedUsers(t, src, 5)
	out := filepath.Join(t.TempDir(), "b.db")
	n, err := BackupFile(src, out)
	if err != nil || n == 0 {
		t.Fatalf("BackupFile: %d %v", n, err)
	}
	if v, err := VerifyFile(out); err != nil || v != SchemaVersion {
		t.Fatalf("VerifyFile: %d %v", v, err)
	}
	// A missing data dir works.
	dst := filepath.Join(t.TempDir(), "new", "data")
	if _, replaced, err := RestoreFile(out, dst, false, time.Now()); err != nil || replaced != "" {
		t.Fatalf("RestoreFile into a missing dir: %q %v", replaced, err)
	}
	expectUsers(t, dst, users)

	// An existing database is refused without force and kept with it.
	other := seedUsers(t, filepath.Join(t.TempDir(), "other"), 1)
	_ = other
	if _, _, err := RestoreFile(out, dst, false, time.Now()); !errors.Is(err, ErrDataDirInUse) {
		t.Fatalf("restore over a database without force: %v", err)
	}
	_, replaced, err := RestoreFile(out, dst, true, time.Now())
	if err != nil || replaced == "" {
		t.Fatalf("restore --force: %q %v", replaced, err)
	}
	if _, err := os.Stat(replaced); err != nil {
		t.Fatalf("the replaced database was not kept: %v", err)
	}
	expectUsers(t, dst, users)
}

func TestOfflineOpsRefuseALockedDatabase(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := BackupFile(dir, filepath.Join(t.TempDir(), "b.db")); !errors.Is(err, ErrLocked) {
		t.Fatalf("backup of a held database: %v", err)
	}
	if _, _, err := CompactFile(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("compact of a held database: %v", err)
	}
	// A hot backup (the HTTP path) works meanwhile and restores elsewhere.
	var buf bytes.Buffer
	if _, err := s.WriteBackup(&buf); err != nil {
		t.Fatal(err)
	}
	hot := filepath.Join(t.TempDir(), "hot.db")
	if err := os.WriteFile(hot, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := RestoreFile(hot, dir, true, time.Now()); !errors.Is(err, ErrLocked) {
		t.Fatalf("restore --force over a held database: %v", err)
	}
	if _, _, err := RestoreFile(hot, filepath.Join(t.TempDir(), "d"), false, time.Now()); err != nil {
		t.Fatalf("restore of a hot backup: %v", err)
	}
}

func TestVerifyFileRejectsForeignFiles(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, bytes.Repeat([]byte("not a database "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "foreign.db")
	db, err := bbolt.Open(foreign, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err })
	_ = db.Close()
	truncated := filepath.Join(dir, "truncated.db")
	good := filepath.Join(t.TempDir(), "data")
	seedUsers(t, good, 1)
	data, _ := os.ReadFile(DatabasePath(good))
	// The file has zeroed headroom past its data: cut below the high-water
	// mark (the used size), not just the tail.
	gdb, err := bbolt.Open(DatabasePath(good), 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var hwm int64
	_ = gdb.View(func(tx *bbolt.Tx) error { hwm = tx.Size(); return nil })
	_ = gdb.Close()
	_ = os.WriteFile(truncated, data[:hwm-4096], 0o600)
	for _, p := range []string{junk, foreign, truncated, filepath.Join(dir, "missing.db")} {
		if _, err := VerifyFile(p); err == nil {
			t.Errorf("VerifyFile(%s) accepted it", filepath.Base(p))
		}
		target := t.TempDir()
		if _, _, err := RestoreFile(p, target, false, time.Now()); err == nil {
			t.Errorf("RestoreFile(%s) accepted it", filepath.Base(p))
		}
		if entries, _ := os.ReadDir(target); len(entries) != 0 {
			t.Errorf("a refused restore left files: %v", entries)
		}
	}
}

func TestCompactShrinksAfterDeletes(t *testing.T) {
	dir := t.TempDir()
	users := seedUsers(t, dir, 3)
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	junk := []byte("junk")
	value := bytes.Repeat([]byte("x"), 4000)
	for batch := 0; batch < 10; batch++ {
		err := s.update(func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(junk)
			if err != nil {
				return err
			}
			for i := 0; i < 500; i++ {
				if err := b.Put([]byte(fmt.Sprintf("%02d-%05d", batch, i)), value); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.update(func(tx *bbolt.Tx) error { return tx.DeleteBucket(junk) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before, after, err := CompactFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("compact: %d → %d bytes", before, after)
	if after >= before/4 {
		t.Fatalf("compact did not shrink the file: %d → %d", before, after)
	}
	if fi, _ := os.Stat(DatabasePath(dir)); fi.Size() != after {
		t.Fatalf("file size %d, reported %d", fi.Size(), after)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("compact left files behind: %s", strings.Join(names, " "))
	}
	expectUsers(t, dir, users)
}

// slowWriter stretches a backup out so that writes overlap it.
type slowWriter struct {
	n     int64
	pause time.Duration
}

func (w *slowWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	time.Sleep(w.pause)
	return len(p), nil
}

// TestHotBackupDoesNotBlockWriters: writes commit while a (slow) hot backup
// streams, and the backup holds exactly what was committed when it began.
func TestHotBackupDoesNotBlockWriters(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	value := bytes.Repeat([]byte("v"), 1000)
	bucket := []byte("filler")
	for batch := 0; batch < 8; batch++ {
		err := s.update(func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(bucket)
			if err != nil {
				return err
			}
			for i := 0; i < 1000; i++ {
				if err := b.Put([]byte(fmt.Sprintf("%d-%d", batch, i)), value); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	before := seedUsersInto(t, s, 3)

	backupDone := make(chan error, 1)
	out := filepath.Join(t.TempDir(), "hot.db")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	w := &slowWriter{pause: 2 * time.Millisecond}
	start := time.Now()
	go func() {
		_, err := s.WriteBackup(io.MultiWriter(f, w))
		backupDone <- err
	}()
	var during []*messages.User
	var maxLatency time.Duration
	var backupErr error
loop:
	for {
		select {
		case backupErr = <-backupDone:
			break loop
		default:
		}
		t0 := time.Now()
		during = append(during, seedUsersInto(t, s, 1)...)
		if d := time.Since(t0); d > maxLatency {
			maxLatency = d
		}
	}
	took := time.Since(start)
	if backupErr != nil {
		t.Fatal(backupErr)
	}
	_ = f.Close()
	t.Logf("hot backup of %d bytes took %v; %d writes committed meanwhile, slowest %v", w.n, took, len(during), maxLatency)
	if len(during) < 2 {
		t.Fatalf("only %d writes committed during a %v backup: writers were blocked", len(during), took)
	}
	dst := filepath.Join(t.TempDir(), "d")
	if _, _, err := RestoreFile(out, dst, false, time.Now()); err != nil {
		t.Fatal(err)
	}
	expectUsers(t, dst, before)
}

// seedUsersInto creates n users in an open store.
func seedUsersInto(t *testing.T, s *Store, n int) []*messages.User {
	t.Helper()
	var users []*messages.User
	for i := 0; i < n; i++ {
		now := time.Now()
		u := &messages.User{ID: messages.NewID(now), Email: messages.NewID(now) + "@example.com", Name: "U", Role: messages.RoleOperator, CreatedAt: messages.TimeOf(now)}
		if err := s.CreateUser(u, nil); err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	return users
}

// BenchmarkHotBackupUnderWrites measures a hot backup of a ~150 MB
// database (written to a file) while a writer commits one small record at
// a time, and reports the backup's throughput and the writes' latency
// during it.
func BenchmarkHotBackupUnderWrites(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	value := bytes.Repeat([]byte("v"), 2000)
	for batch := 0; batch < 75; batch++ {
		err := s.update(func(tx *bbolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists([]byte("filler"))
			if err != nil {
				return err
			}
			for i := 0; i < 1000; i++ {
				if err := bk.Put([]byte(fmt.Sprintf("%03d-%04d", batch, i)), value); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	out := filepath.Join(b.TempDir(), "hot.db")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		var lat []time.Duration
		go func() {
			defer close(done)
			for j := 0; ; j++ {
				select {
				case <-done:
					return
				default:
				}
				t0 := time.Now()
				err := s.update(func(tx *bbolt.Tx) error {
					bk, err := tx.CreateBucketIfNotExists([]byte("during"))
					if err != nil {
						return err
					}
					return bk.Put([]byte(fmt.Sprintf("%d-%d", i, j)), value[:200])
				})
				if err != nil {
					return
				}
				lat = append(lat, time.Since(t0))
			}
		}()
		start := time.Now()
		n, err := s.WriteBackup(f)
		took := time.Since(start)
		done <- struct{}{}
		<-done
		_ = f.Close()
		if err != nil {
			b.Fatal(err)
		}
		sortDurations(lat)
		b.ReportMetric(float64(n)/took.Seconds()/1e6, "MB/s")
		b.ReportMetric(float64(n)/1e6, "MB")
		b.ReportMetric(float64(len(lat)), "writes-during")
		if len(lat) > 0 {
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-write-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-write-µs")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-write-µs")
		}
	}
}

func sortDurations(d []time.Duration) { sort.Slice(d, func(i, j int) bool { return d[i] < d[j] }) }
