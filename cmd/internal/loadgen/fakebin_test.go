package loadgen

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/valyala/fasthttp"
)

// fakeBinaryEnv makes the test binary behave as a tiny `exekra` (license
// keygen, license issue, serve), so the self-managed mode runs end to end.
const fakeBinaryEnv = "LOADGEN_TEST_FAKE_EXEKRA"

// fakeLicense is the license text the fake issues and accepts.
const fakeLicense = "fake-license-for-loadgen-tests"

func TestMain(m *testing.M) {
	if os.Getenv(fakeBinaryEnv) == "1" {
		os.Exit(fakeExekra(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fakeExekra implements the few subcommands loadgen runs.
func fakeExekra(args []string) int {
	if len(args) < 1 {
		return 2
	}
	fs := flag.NewFlagSet("fake", flag.ContinueOnError)
	out := fs.String("out", "", "")
	addr := fs.String("addr", "", "")
	email := fs.String("email", "", "")
	fs.String("key", "", "")
	fs.String("org", "", "")
	fs.String("days", "", "")
	fs.String("data-dir", "", "")
	fs.Bool("insecure-http", false, "")
	fs.String("license-public-key", "", "")
	fs.String("rate-limit", "", "")
	fs.String("log-level", "", "")
	switch {
	case len(args) >= 2 && args[0] == "license" && args[1] == "keygen":
		if fs.Parse(args[2:]) != nil || os.MkdirAll(*out, 0o700) != nil {
			return 2
		}
		for _, f := range []string{"license.key", "license.pub"} {
			if os.WriteFile(filepath.Join(*out, f), []byte("fake"), 0o600) != nil {
				return 1
			}
		}
		return 0
	case len(args) >= 2 && args[0] == "license" && args[1] == "issue":
		if fs.Parse(args[2:]) != nil || *email != loadEmail {
			fmt.Fprintln(os.Stderr, "exekra license issue: bad flags")
			return 2
		}
		if os.WriteFile(*out, []byte(fakeLicense), 0o600) != nil {
			return 1
		}
		return 0
	case args[0] == "serve":
		if fs.Parse(args[1:]) != nil {
			return 2
		}
		ln, err := net.Listen("tcp4", *addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		srv := &fasthttp.Server{Handler: newFakeServer().handle}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		go func() { <-sig; _ = srv.Shutdown() }()
		if err := srv.Serve(ln); err != nil {
			return 1
		}
		return 0
	}
	return 2
}

func TestSelfManagedServer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "exekra")
	// atexit_sleep_ms=0: a -race binary otherwise sleeps 1 s on every exit.
	script := fmt.Sprintf("#!/bin/sh\nGORACE=\"${GORACE:+$GORACE }atexit_sleep_ms=0\" %s=1 exec '%s' \"$@\"\n", fakeBinaryEnv, self)
	if err := os.WriteFile(bin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	md := filepath.Join(dir, "perf.md")
	code := Main([]string{"all", "--bin", bin, "--duration", "50ms", "--concurrency", "4",
		"--runners", "8", "--executions", "20", "--wait", "1s", "--heartbeat-interval", "1s",
		"--rate", "50", "--drain-timeout", "2s", "--markdown", md}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	if !bytes.Contains(out.Bytes(), []byte("server stops cleanly on SIGTERM")) ||
		!bytes.Contains(out.Bytes(), []byte("7 of 7 scenarios passed")) {
		t.Errorf("output:\n%s", out.String())
	}
	data, err := os.ReadFile(md)
	if err != nil || !bytes.Contains(data, []byte("| lifecycle |")) {
		t.Errorf("markdown (%v):\n%s", err, data)
	}
}
