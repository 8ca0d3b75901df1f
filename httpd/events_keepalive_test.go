package httpd

import (
	"testing"
	"time"
)

// docs/api.md promises a comment line on an idle stream at least every
// 15 s; a tick of exactly 15 s lands a little after that (timer latency,
// then the write), so the period keeps a clear margin below it.
func TestStreamKeepAliveComesWithinFifteenSeconds(t *testing.T) {
	const promised = 15 * time.Second
	if margin := promised - streamHeartbeat; margin < 2*time.Second {
		t.Fatalf("keep-alive every %v leaves %v before the promised %v", streamHeartbeat, margin, promised)
	}
}
