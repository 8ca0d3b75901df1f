package httpd

import (
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// limiter is a per-client token bucket: each client may make `limit`
// requests per minute, refilled continuously, with a burst of `limit`. It is
// sharded to keep lock contention low under many clients.
type limiter struct {
	limit  float64       // tokens per window (= burst)
	window time.Duration // one minute
	seed   maphash.Seed
	shards [64]limiterShard
}

type limiterShard struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	sweep   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// limitResult is what one request learns from the limiter.
type limitResult struct {
	allowed    bool
	limit      int
	remaining  int
	resetIn    time.Duration // until the bucket is full again
	retryAfter time.Duration // until one token is available (when refused)
}

func newLimiter(perMinute int) *limiter {
	l := &limiter{limit: float64(perMinute), window: time.Minute, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].buckets = map[string]*bucket{}
	}
	return l
}

// take spends one token of client's bucket at now.
func (l *limiter) take(client string, now time.Time) limitResult {
	sh := &l.shards[maphash.String(l.seed, client)%uint64(len(l.shards))]
	rate := l.limit / float64(l.window) // tokens per nanosecond
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if now.Sub(sh.sweep) > l.window {
		// Forget clients whose bucket has been full for a while.
		for k, b := range sh.buckets {
			if now.Sub(b.last) > l.window {
				delete(sh.buckets, k)
			}
		}
		sh.sweep = now
	}
	b := sh.buckets[client]
	if b == nil {
		b = &bucket{tokens: l.limit, last: now}
		sh.buckets[client] = b
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = math.Min(l.limit, b.tokens+float64(elapsed)*rate)
		b.last = now
	}
	res := limitResult{limit: int(l.limit)}
	if b.tokens >= 1 {
		b.tokens--
		res.allowed = true
	} else {
		res.retryAfter = time.Duration((1 - b.tokens) / rate)
	}
	res.remaining = int(math.Floor(b.tokens))
	res.resetIn = time.Duration((l.limit - b.tokens) / rate)
	return res
}
