package refrunner

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff is exponential backoff with full jitter: attempt n waits a random
// duration up to min(max, min·2ⁿ), never less than a quarter of min, so that a
// failing server is never hammered in a tight loop.
type backoff struct {
	min, max time.Duration
	attempt  int
}

// next returns the pause before the next attempt and advances the sequence.
func (b *backoff) next() time.Duration {
	ceiling := b.min
	for i := 0; i < b.attempt && ceiling < b.max; i++ {
		ceiling *= 2
	}
	if ceiling > b.max {
		ceiling = b.max
	}
	b.attempt++
	floor := b.min / 4
	if ceiling <= floor {
		return floor
	}
	return floor + rand.N(ceiling-floor+1)
}

// reset starts the sequence again after a success.
func (b *backoff) reset() { b.attempt = 0 }

// sleepCtx waits d or until ctx ends; it reports whether the full wait happened.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
