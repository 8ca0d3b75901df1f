package storage

// SchemaVersion is the version of the on-disk layout this build reads and
// writes. Open refuses a file written by a newer build and upgrades an
// older one in place (migrate.go lists the steps).
const SchemaVersion = 2

// Bucket names: the one registry of every top-level bucket.
var (
	bucketMeta     = []byte("meta")     // meta keys below
	bucketCounters = []byte("counters") // name → uint64 big-endian
	bucketUsers    = []byte("users")    // user id → stored user
	bucketEmails   = []byte("emails")   // lower-cased email → user id
	bucketAudit    = []byte("audit")    // entry id (time-ordered) → entry
	bucketRevoked  = []byte("revoked")  // token id → expiry (uint64 ms)
)

// Buckets of later capabilities. Each capability's repository file owns
// its buckets and their key layout (documented there).
var (
	bucketWorkflows  = []byte("workflows")  // workflow id → workflow (owner: workflows.go)
	bucketVersions   = []byte("versions")   // version id → version (owner: workflows.go)
	bucketExecutions = []byte("executions") // execution id → execution (owner: executions.go)
	bucketRunners    = []byte("runners")    // runner id → stored runner (owner: runners.go)
	bucketTriggers   = []byte("triggers")   // trigger id → trigger (owner: triggers.go)
	bucketAnalytics  = []byte("analytics")  // workflow id + day → aggregate (owner: analytics.go)
)

// allBuckets lists every bucket created on open. Packages of later features
// add theirs with registerBuckets from an init function in their own file.
var allBuckets = [][]byte{bucketMeta, bucketCounters, bucketUsers, bucketEmails, bucketAudit, bucketRevoked,
	bucketWorkflows, bucketVersions, bucketExecutions, bucketRunners, bucketTriggers, bucketAnalytics}

// registerBuckets adds buckets to the registry (call from init).
func registerBuckets(names ...[]byte) { allBuckets = append(allBuckets, names...) }

// Meta keys in bucketMeta.
var (
	metaSchemaVersion = []byte("schema_version") // uint64
	metaLicense       = []byte("license")        // license text
	metaJWTSecret     = []byte("jwt_secret")     // 32+ random bytes
	metaCreatedAt     = []byte("created_at")     // uint64 ms
	metaSealKey       = []byte("seal_key")       // AES-256 key of sealed secrets (seal.go)
	metaHealthProbe   = []byte("health_probe")   // written by Ping after a failed commit
)

// Counter names in bucketCounters.
const (
	counterUsers = "users"
	counterAudit = "audit"
)

// activeCounter names the counter of a workflow's QUEUED, ASSIGNED and
// RUNNING executions. executions.go keeps it in the same transaction as
// every status change; workflows.go reads it inside the delete transaction,
// so a workflow is never deleted under an active execution.
func activeCounter(workflowID string) string { return "active/" + workflowID }

// workflowExecutionsCounter names the counter of all executions of a
// workflow (its executionCount). executions.go keeps it.
func workflowExecutionsCounter(workflowID string) string { return "executions/" + workflowID }
