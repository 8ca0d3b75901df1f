// Package storage keeps Exekra's records in one bbolt file.
//
// Layout: schema.go is the one registry of bucket names, meta keys and the
// schema version; store.go opens the file (once, with a lock timeout),
// checks the schema and runs the group-commit writer; one file per record
// (users.go, audit.go, meta.go, ...) holds that record's repository methods.
//
// Durability: every write method returns only after its transaction is
// fsync'd. Writes from many goroutines are funnelled to one writer loop that
// commits everything queued in one transaction and one fsync (group commit),
// so thousands of concurrent writes per second share fsyncs while each
// caller still learns that its own write is on disk. A write function may
// run more than once (when another write in its batch fails, the batch is
// retried without it), so write functions are deterministic: ids and times
// are passed in, never made inside.
package storage
