package loadgen

import (
	"bytes"
	"os"
	"testing"
)

// TestScaleSmoke runs the scale scenario with thousands of runners against
// the in-process fake. It is opt-in (LOADGEN_SCALE_SMOKE=1) because it takes
// about half a minute; client and fake share one process and its open-files
// limit, hence 5,000 runners rather than 10,000.
func TestScaleSmoke(t *testing.T) {
	if os.Getenv("LOADGEN_SCALE_SMOKE") == "" {
		t.Skip("set LOADGEN_SCALE_SMOKE=1 to run")
	}
	url := newFakeServer().start(t)
	var out, errb bytes.Buffer
	code := Main([]string{"scale", "--url", url, "--token", "admin", "--runners", "5000", "--duration", "20s",
		"--wait", "10s", "--heartbeat-interval", "5s", "--rate", "50"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	t.Log(out.String())
}
