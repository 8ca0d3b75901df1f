package refrunner

import (
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newTLSFake starts the fake orchestrator over HTTPS with httptest's self-signed certificate.
func newTLSFake(t *testing.T) *fakeOrchestrator {
	t.Helper()
	f := newFakeHandler(t)
	f.srv = httptest.NewTLSServer(f.mux())
	t.Cleanup(f.srv.Close)
	return f
}

func TestTLS(t *testing.T) {
	t.Run("self-signed certificate refused by default", func(t *testing.T) {
		f := newTLSFake(t)
		logs := &syncBuffer{}
		startRunner(t, testConfig(f.srv.URL, logs))
		waitFor(t, 10*time.Second, "refused attempts", func() bool { return strings.Count(logs.String(), "retrying") >= 2 })
		f.with(func() {
			if f.authCount != 0 {
				t.Errorf("the runner authenticated against an unverified certificate")
			}
		})
	})
	t.Run("insecure-skip-verify", func(t *testing.T) {
		f := newTLSFake(t)
		cfg := testConfig(f.srv.URL, &syncBuffer{})
		cfg.InsecureSkipVerify = true
		startRunner(t, cfg)
		id := f.enqueue(graphJSON(t, node("s", "start", nil)))
		if final := waitTerminal(t, f, id); final.Status != StatusCompleted {
			t.Fatalf("final report = %+v", final)
		}
	})
	t.Run("ca-cert", func(t *testing.T) {
		f := newTLSFake(t)
		caFile := filepath.Join(t.TempDir(), "ca.pem")
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
		if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := testConfig(f.srv.URL, &syncBuffer{})
		cfg.CAFile = caFile
		startRunner(t, cfg)
		id := f.enqueue(graphJSON(t, node("s", "start", nil)))
		if final := waitTerminal(t, f, id); final.Status != StatusCompleted {
			t.Fatalf("final report = %+v", final)
		}
	})
}
