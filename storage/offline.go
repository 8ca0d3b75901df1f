package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Offline operations on a stopped server's database: cold backup, restore
// and compaction (exekra backup / restore / compact). Each one takes the
// file lock with a short timeout, so it refuses to touch a database that a
// running server holds.

// ErrLocked is returned when another process (a running server) holds the
// database's lock.
var ErrLocked = errors.New("storage: the database is locked by another process: stop the server first (or take a hot backup with GET /api/system/backup)")

// ErrNoDatabase is returned when the data dir holds no database.
var ErrNoDatabase = errors.New("storage: no database in the data dir")

// ErrDataDirInUse is returned by RestoreFile when the target data dir
// already holds a database and force is not set.
var ErrDataDirInUse = errors.New("storage: the data dir already holds a database (use --force to replace it)")

// offlineLockTimeout bounds the wait for the lock of a running server.
const offlineLockTimeout = 500 * time.Millisecond

// DatabasePath is the database file of dataDir.
func DatabasePath(dataDir string) string { return filepath.Join(dataDir, FileName) }

// hasDatabase reports whether path is a non-empty file.
func hasDatabase(path string) (bool, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("storage: %w", err)
	case fi.IsDir():
		return false, fmt.Errorf("storage: %s is a directory", path)
	}
	return fi.Size() > 0, nil
}

// openOffline opens path (which must exist) with the short lock timeout.
func openOffline(path string, readOnly bool) (*bbolt.DB, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: offlineLockTimeout, ReadOnly: readOnly, FreelistType: bbolt.FreelistMapType})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, ErrLocked
	}
	if err != nil {
		return nil, fmt.Errorf("storage: %s is not a usable database: %w", path, err)
	}
	return db, nil
}

// schemaOfTx checks that tx is an exekra database this build can read and
// returns its schema version.
func schemaOfTx(tx *bbolt.Tx) (uint64, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0, errors.New("it has no meta bucket: not an exekra database")
	}
	v := meta.Get(metaSchemaVersion)
	if len(v) != 8 {
		return 0, errors.New("it has no schema version: not an exekra database")
	}
	got := readU64(v)
	if got == 0 || got > SchemaVersion {
		return got, fmt.Errorf("its schema version %d is not one this build reads (1..%d)", got, SchemaVersion)
	}
	return got, nil
}

// VerifyFile checks that path is a bbolt database of ours (opened read-only,
// its schema version meta key checked) and returns the schema version.
func VerifyFile(path string) (uint64, error) {
	ok, err := hasDatabase(path)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("storage: %s is missing or empty", path)
	}
	db, err := openOffline(path, true)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("storage: %w", err)
	}
	var version uint64
	err = db.View(func(tx *bbolt.Tx) error {
		// A file shorter than its own high-water mark was cut short (a
		// partial download); reading on would fault on unmapped pages.
		if tx.Size() > fi.Size() {
			return fmt.Errorf("it is truncated (%d bytes of %d)", fi.Size(), tx.Size())
		}
		var err error
		if version, err = schemaOfTx(tx); err != nil {
			return err
		}
		var damage error
		for err := range tx.Check() { // drain: Check's goroutine sends them all
			if damage == nil {
				damage = fmt.Errorf("it is damaged: %w", err)
			}
		}
		return damage
	})
	if err != nil {
		return version, fmt.Errorf("storage: %s: %w", path, err)
	}
	return version, nil
}

// BackupFile writes a consistent copy of dataDir's database to out (through
// a temporary file, synced and renamed into place). It refuses a database
// that a running server holds. It returns the bytes written.
func BackupFile(dataDir, out string) (int64, error) {
	path := DatabasePath(dataDir)
	ok, err := hasDatabase(path)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("%w: %s", ErrNoDatabase, path)
	}
	db, err := openOffline(path, true)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int64
	err = db.View(func(tx *bbolt.Tx) error {
		if _, err := schemaOfTx(tx); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		n, err = writeFileAtomic(out, func(w io.Writer) (int64, error) { return tx.WriteTo(w) })
		return err
	})
	if err != nil {
		return n, fmt.Errorf("storage: backup: %w", err)
	}
	return n, nil
}

// RestoreFile installs the backup from as dataDir's database. The backup is
// verified first; a data dir that already holds a database is refused
// unless force is set, in which case the old file is kept beside it as
// exekra.db.replaced-<time> (its name is returned). A missing or empty data
// dir works. It refuses while a server holds the current database.
func RestoreFile(from, dataDir string, force bool, now time.Time) (n int64, replaced string, err error) {
	if _, err := VerifyFile(from); err != nil {
		return 0, "", err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return 0, "", fmt.Errorf("storage: create data dir: %w", err)
	}
	path := DatabasePath(dataDir)
	exists, err := hasDatabase(path)
	if err != nil {
		return 0, "", err
	}
	if exists {
		if !force {
			return 0, "", fmt.Errorf("%w: %s", ErrDataDirInUse, path)
		}
		// Take the lock: a running server must not lose its file under it.
		db, err := openOffline(path, false)
		if err != nil && errors.Is(err, ErrLocked) {
			return 0, "", err
		}
		if db != nil {
			defer db.Close() // hold the lock until the new file is in place
		}
		replaced = path + ".replaced-" + now.UTC().Format("20060102T150405Z")
	}
	src, err := os.Open(from)
	if err != nil {
		return 0, "", fmt.Errorf("storage: restore: %w", err)
	}
	defer src.Close()
	tmp := path + ".restoring"
	n, err = writeFile(tmp, func(w io.Writer) (int64, error) { return io.Copy(w, src) })
	if err != nil {
		return n, "", fmt.Errorf("storage: restore: %w", err)
	}
	if _, err := VerifyFile(tmp); err != nil {
		_ = os.Remove(tmp)
		return n, "", fmt.Errorf("storage: restore: the copy does not verify: %w", err)
	}
	if replaced != "" {
		if err := os.Rename(path, replaced); err != nil {
			_ = os.Remove(tmp)
			return n, "", fmt.Errorf("storage: restore: keep the old database: %w", err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return n, replaced, fmt.Errorf("storage: restore: %w", err)
	}
	return n, replaced, syncDir(dataDir)
}

// CompactFile rewrites dataDir's database into a fresh file holding only
// live pages (bbolt never shrinks its file by itself) and atomically
// renames it into place. It refuses while a server holds the database and
// returns the file sizes before and after.
func CompactFile(dataDir string) (before, after int64, err error) {
	path := DatabasePath(dataDir)
	ok, err := hasDatabase(path)
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		return 0, 0, fmt.Errorf("%w: %s", ErrNoDatabase, path)
	}
	src, err := openOffline(path, false)
	if err != nil {
		return 0, 0, err
	}
	defer src.Close() // holds the lock until the rename is done
	if err := src.View(func(tx *bbolt.Tx) error { _, err := schemaOfTx(tx); return err }); err != nil {
		return 0, 0, fmt.Errorf("storage: %s: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, fmt.Errorf("storage: %w", err)
	}
	before = fi.Size()
	tmp := path + ".compacting"
	_ = os.Remove(tmp)
	dst, err := bbolt.Open(tmp, 0o600, &bbolt.Options{Timeout: offlineLockTimeout, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return before, 0, fmt.Errorf("storage: compact: %w", err)
	}
	if err := bbolt.Compact(dst, src, 64<<20); err != nil {
		_ = dst.Close()
		_ = os.Remove(tmp)
		return before, 0, fmt.Errorf("storage: compact: %w", err)
	}
	if err := dst.Close(); err != nil {
		_ = os.Remove(tmp)
		return before, 0, fmt.Errorf("storage: compact: %w", err)
	}
	if fi, err = os.Stat(tmp); err != nil {
		return before, 0, fmt.Errorf("storage: compact: %w", err)
	}
	after = fi.Size()
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return before, 0, fmt.Errorf("storage: compact: %w", err)
	}
	return before, after, syncDir(filepath.Dir(path))
}

// writeFileAtomic writes path through a temporary file that is synced and
// renamed into place.
func writeFileAtomic(path string, write func(io.Writer) (int64, error)) (int64, error) {
	tmp := path + ".partial"
	n, err := writeFile(tmp, write)
	if err != nil {
		return n, err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return n, err
	}
	return n, syncDir(filepath.Dir(path))
}

// writeFile creates path (0600), writes it and syncs it; on failure the
// file is removed.
func writeFile(path string, write func(io.Writer) (int64, error)) (int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
	}
	return n, err
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("storage: sync %s: %w", dir, err)
	}
	return nil
}
