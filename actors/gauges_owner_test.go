package actors

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// QueueDepth has one writer, the dispatcher (which owns the queue): a caller
// is answered only after the dispatcher has counted what it queued, so no
// other actor may write it. This fails when a write appears anywhere else.
func TestQueueDepthHasOneWriter(t *testing.T) {
	write := regexp.MustCompile(`QueueDepth(\[[^\]]*\])?\.(Store|Add|Swap|CompareAndSwap)\(`)
	var writers []string
	for _, dir := range []string{".", "../httpd", "../storage", "../cmd/exekra"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if write.Match(src) {
				writers = append(writers, filepath.Clean(f))
			}
		}
	}
	if len(writers) != 1 || writers[0] != "dispatcher.go" {
		t.Fatalf("QueueDepth is written in %v; only dispatcher.go may write it", writers)
	}
}
