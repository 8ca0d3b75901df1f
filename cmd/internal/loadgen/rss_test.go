package loadgen

import (
	"os"
	"runtime"
	"testing"
)

func TestPeakRSSOfThisProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	mib, err := peakRSSMiB(os.Getpid())
	if err != nil || mib <= 1 || mib > 64*1024 {
		t.Fatalf("peak RSS %.1f MiB, %v", mib, err)
	}
	if _, err := peakRSSMiB(-1); err == nil {
		t.Fatal("a missing process must be an error")
	}
}
