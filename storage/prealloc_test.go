package storage

import (
	"os"
	"testing"

	"go.etcd.io/bbolt"
)

func TestHeadroomIsAllocatedNotSparse(t *testing.T) {
	s := openTest(t, t.TempDir())
	var used int64
	_ = s.view(func(tx *bbolt.Tx) error { used = tx.Size(); return nil })
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	// allocatedBytes counts blocks on Unix and the size on Windows (see
	// prealloc_other.go).
	if allocated := allocatedBytes(fi); allocated-used < minHeadroom/2 {
		t.Fatalf("allocated %d bytes for %d used: the headroom is sparse", allocated, used)
	}
	for _, c := range []struct{ used, want int64 }{{0, minHeadroom}, {1 << 30, 256 << 20}, {200 << 20, 50 << 20}} {
		if got := headroomFor(c.used); got != c.want {
			t.Errorf("headroomFor(%d) = %d, want %d", c.used, got, c.want)
		}
	}
}
