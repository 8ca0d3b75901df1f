package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A malformed --addr is a wrong flag: one line, exit 2, and nothing is
// created in the data dir (it used to open the database, generate a TLS
// certificate and only then fail to listen, exit 1).
func TestServeMalformedAddrIsUsageError(t *testing.T) {
	for _, addr := range []string{"bogus", ":99999", "127.0.0.1:-1", "1.2.3.4:5:6", "host:port"} {
		dir := filepath.Join(t.TempDir(), "data")
		code, _, stderr := runCLI([]string{"serve", "--addr", addr, "--data-dir", dir, "--insecure-http"}, nil)
		if code != 2 || strings.Count(strings.TrimRight(stderr, "\n"), "\n") != 0 || !strings.Contains(stderr, "--addr") {
			t.Errorf("--addr %q: exit %d, stderr %q; want 2 and one line naming --addr", addr, code, stderr)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("--addr %q: the data dir was created (%v)", addr, err)
		}
	}
	for _, addr := range []string{":4545", "127.0.0.1:0", "[::1]:4545", "localhost:8443"} {
		if err := (&Config{Addr: addr}).validateAddr(); err != nil {
			t.Errorf("--addr %q refused: %v", addr, err)
		}
	}
}
