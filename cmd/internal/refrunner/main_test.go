package refrunner

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// clearRunnerEnv makes sure no EXEKRA_ variable stands in for a flag.
func clearRunnerEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"EXEKRA_URL", "EXEKRA_MACHINE_KEY", "EXEKRA_MACHINE_SECRET", "EXEKRA_CA_CERT"} {
		t.Setenv(k, "")
	}
}

func TestMainBadFlagsExit2WithOneLine(t *testing.T) {
	clearRunnerEnv(t)
	ok := []string{"--url", "http://127.0.0.1:1", "--machine-key", "k", "--machine-secret", "s"}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no flags", nil, "--url is required"},
		{"missing key", []string{"--url", "http://127.0.0.1:1", "--machine-secret", "s"}, "--machine-key is required"},
		{"missing secret", []string{"--url", "http://127.0.0.1:1", "--machine-key", "k"}, "--machine-secret is required"},
		{"unknown flag", append([]string{"--bogus"}, ok...), "flag provided but not defined"},
		{"positional argument", append(append([]string{}, ok...), "extra"), `unexpected argument "extra"`},
		{"relative url", []string{"--url", "orchestrator:4545", "--machine-key", "k", "--machine-secret", "s"}, "absolute http or https URL"},
		{"bad log level", append([]string{"--log-level", "loud"}, ok...), "--log-level"},
		{"bad log format", append([]string{"--log-format", "xml"}, ok...), "--log-format"},
		{"missing ca file", append([]string{"--ca-cert", "/nonexistent/ca.pem"}, ok...), "--ca-cert"},
		{"flag without value", []string{"--url"}, "flag needs an argument"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), tc.args, &stdout, &stderr)
			if code != 2 {
				t.Fatalf("exit code %d, want 2 (stderr %q)", code, stderr.String())
			}
			msg := stderr.String()
			if strings.Count(msg, "\n") != 1 || !strings.HasSuffix(msg, "\n") || !strings.Contains(msg, tc.want) {
				t.Errorf("stderr = %q, want one line mentioning %q", msg, tc.want)
			}
			if strings.Contains(msg, "s3cr3t") {
				t.Error("the error echoes a secret")
			}
		})
	}
}

func TestMainHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main(context.Background(), []string{"--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	if !strings.Contains(stdout.String(), "--allow-shell") {
		t.Errorf("usage lacks --allow-shell: %q", stdout.String())
	}
}

func TestMainStopsCleanlyOnCancel(t *testing.T) {
	clearRunnerEnv(t)
	f := newFakeOrchestrator(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"--url", f.srv.URL, "--machine-key", testKey, "--machine-secret", testSecret, "--log-level", "debug"}, &syncBuffer{}, &stderr)
	}()
	waitFor(t, 5*time.Second, "first heartbeat", func() bool {
		var n int
		f.with(func() { n = len(f.heartbeats) })
		return n > 0
	})
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit code %d after cancellation, want 0; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Main did not return after cancellation")
	}
	if strings.Contains(stderr.String(), testSecret) || strings.Contains(stderr.String(), "runner-token-") {
		t.Errorf("the log shows a secret or token:\n%s", stderr.String())
	}
}

func TestMainRejectedCredentialsExit1(t *testing.T) {
	clearRunnerEnv(t)
	f := newFakeOrchestrator(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	code := Main(ctx, []string{"--url", f.srv.URL, "--machine-key", testKey, "--machine-secret", "nope"}, &bytes.Buffer{}, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "rejected the machine credentials") {
		t.Fatalf("exit code %d, stderr %q; want 1 and a rejection message", code, stderr.String())
	}
}

func TestMainReadsSecretFromEnvironment(t *testing.T) {
	clearRunnerEnv(t)
	t.Setenv("EXEKRA_MACHINE_SECRET", "from-env")
	cfg, _, _, err := parseFlags([]string{"--url", "http://127.0.0.1:1", "--machine-key", "k"})
	if err != nil || cfg.MachineSecret != "from-env" {
		t.Fatalf("cfg.MachineSecret = %q, err = %v", cfg.MachineSecret, err)
	}
}
