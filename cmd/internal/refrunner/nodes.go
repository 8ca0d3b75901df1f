package refrunner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Node types the reference runner knows.
const (
	NodeStart = "start"
	NodeEnd   = "end"
	NodeLog   = "log"
	NodeDelay = "delay"
	NodeHTTP  = "http"
	NodeFail  = "fail"
	NodeShell = "shell"
)

// Limits on what nodes may ask for.
const (
	maxDelay          = 24 * time.Hour
	defaultHTTPTimout = 30 * time.Second
	maxShellOutput    = 64 << 10
)

// errShellDisabled is the reason a shell node fails on a runner without --allow-shell.
var errShellDisabled = errors.New("shell nodes are disabled on this runner (start it with --allow-shell to enable them)")

// stepEnv is what a running step may use.
type stepEnv struct {
	log      *execLog
	http     *http.Client
	shellEnv []string
}

// step is a validated node ready to run.
type step interface {
	run(ctx context.Context, env *stepEnv) error
}

// prepare validates node and returns its step; nothing runs yet.
func prepare(node Node, allowShell bool) (step, error) {
	switch node.Type {
	case NodeStart, NodeEnd:
		return noopStep{}, nil
	case NodeLog:
		var p struct {
			Message *string `json:"message"`
		}
		if err := decodeParams(node, &p); err != nil {
			return nil, err
		}
		if p.Message == nil {
			return nil, paramErr(node, "params.message is required")
		}
		return logStep{message: *p.Message}, nil
	case NodeDelay:
		var p struct {
			MS flexInt `json:"ms"`
		}
		if err := decodeParams(node, &p); err != nil {
			return nil, err
		}
		d := time.Duration(p.MS.value) * time.Millisecond
		if !p.MS.set || p.MS.value < 0 || d > maxDelay {
			return nil, paramErr(node, "params.ms must be a number of milliseconds from 0 to 86400000")
		}
		return delayStep{d: d}, nil
	case NodeHTTP:
		return prepareHTTP(node)
	case NodeFail:
		var p struct {
			Message string `json:"message"`
		}
		if err := decodeParams(node, &p); err != nil {
			return nil, err
		}
		if p.Message == "" {
			p.Message = fmt.Sprintf("fail node %s reached", node.ID)
		}
		return failStep{message: p.Message}, nil
	case NodeShell:
		var p struct {
			Command string `json:"command"`
		}
		if err := decodeParams(node, &p); err != nil {
			return nil, err
		}
		if !allowShell {
			return nil, fmt.Errorf("node %s: %w", node.label(), errShellDisabled)
		}
		if strings.TrimSpace(p.Command) == "" {
			return nil, paramErr(node, "params.command is required")
		}
		return shellStep{command: p.Command}, nil
	case "":
		return nil, fmt.Errorf("node %s has no type", node.ID)
	default:
		return nil, fmt.Errorf("node %s: unknown node type %q (this runner knows start, end, log, delay, http, fail, shell)", node.ID, node.Type)
	}
}

// decodeParams decodes node.Params (absent means {}) into p.
func decodeParams(node Node, p any) error {
	raw := bytes.TrimSpace(node.Params)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	if err := json.Unmarshal(raw, p); err != nil {
		return paramErr(node, "bad params: "+err.Error())
	}
	return nil
}

// paramErr is a validation error about node's params.
func paramErr(node Node, msg string) error {
	return fmt.Errorf("node %s: %s", node.label(), msg)
}

// noopStep is start and end.
type noopStep struct{}

func (noopStep) run(context.Context, *stepEnv) error { return nil }

// logStep appends its message to the execution log.
type logStep struct{ message string }

func (s logStep) run(_ context.Context, env *stepEnv) error {
	env.log.add(s.message)
	return nil
}

// delayStep waits, and gives up at once when the execution is stopped.
type delayStep struct{ d time.Duration }

func (s delayStep) run(ctx context.Context, env *stepEnv) error {
	env.log.addf("Waiting %d ms", s.d.Milliseconds())
	if !sleepCtx(ctx, s.d) {
		return context.Cause(ctx)
	}
	return nil
}

// failStep fails the execution with its message.
type failStep struct{ message string }

func (s failStep) run(context.Context, *stepEnv) error { return errors.New(s.message) }

// httpStep performs one HTTP request and checks its status.
type httpStep struct {
	method  string
	url     *url.URL
	headers map[string]string
	body    string
	expect  int // 0: any 2xx
	timeout time.Duration
}

// prepareHTTP validates an http node.
func prepareHTTP(node Node) (step, error) {
	var p struct {
		Method       string            `json:"method"`
		URL          string            `json:"url"`
		ExpectStatus flexInt           `json:"expectStatus"`
		Headers      map[string]string `json:"headers"`
		Body         string            `json:"body"`
		TimeoutMS    flexInt           `json:"timeoutMs"`
	}
	if err := decodeParams(node, &p); err != nil {
		return nil, err
	}
	s := httpStep{method: strings.ToUpper(strings.TrimSpace(p.Method)), headers: p.Headers, body: p.Body, timeout: defaultHTTPTimout}
	if s.method == "" {
		s.method = http.MethodGet
	}
	if strings.ContainsAny(s.method, " \t\r\n/:") {
		return nil, paramErr(node, fmt.Sprintf("params.method %q is not an HTTP method", p.Method))
	}
	u, err := url.Parse(p.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, paramErr(node, "params.url must be an absolute http or https URL")
	}
	s.url = u
	if p.ExpectStatus.set {
		if p.ExpectStatus.value < 100 || p.ExpectStatus.value > 599 {
			return nil, paramErr(node, "params.expectStatus must be an HTTP status from 100 to 599")
		}
		s.expect = int(p.ExpectStatus.value)
	}
	if p.TimeoutMS.set {
		if p.TimeoutMS.value <= 0 || time.Duration(p.TimeoutMS.value)*time.Millisecond > maxDelay {
			return nil, paramErr(node, "params.timeoutMs must be a positive number of milliseconds")
		}
		s.timeout = time.Duration(p.TimeoutMS.value) * time.Millisecond
	}
	return s, nil
}

func (s httpStep) run(ctx context.Context, env *stepEnv) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var body io.Reader
	if s.body != "" {
		body = strings.NewReader(s.body)
	}
	req, err := http.NewRequestWithContext(ctx, s.method, s.url.String(), body)
	if err != nil {
		return fmt.Errorf("http %s %s: %w", s.method, s.url.Redacted(), err)
	}
	for k, v := range s.headers {
		req.Header.Set(k, v)
	}
	started := time.Now()
	resp, err := env.http.Do(req)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.DeadlineExceeded) {
			return cause // stopped or shutting down: let the caller say why
		}
		return fmt.Errorf("http %s %s: %w", s.method, s.url.Redacted(), unwrapURLError(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	env.log.addf("HTTP %s %s -> %s (%d ms)", s.method, s.url.Redacted(), resp.Status, time.Since(started).Milliseconds())
	ok := resp.StatusCode >= 200 && resp.StatusCode <= 299
	if s.expect != 0 {
		ok = resp.StatusCode == s.expect
	}
	if !ok {
		want := "a 2xx status"
		if s.expect != 0 {
			want = fmt.Sprintf("status %d", s.expect)
		}
		return fmt.Errorf("http %s %s answered %d, expected %s", s.method, s.url.Redacted(), resp.StatusCode, want)
	}
	return nil
}

// shellStep runs command with `sh -c` (PowerShell on Windows: see
// shellCommand), streaming its output into the log.
type shellStep struct{ command string }

func (s shellStep) run(ctx context.Context, env *stepEnv) error {
	name, args := hostShell(s.command)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env.shellEnv
	out := &lineWriter{log: env.log, limit: maxShellOutput}
	cmd.Stdout, cmd.Stderr = out, out
	killProcessGroup(cmd)
	cmd.WaitDelay = 2 * time.Second
	env.log.addf("$ %s", s.command)
	err := cmd.Run()
	out.flush()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return fmt.Errorf("shell command exited with status %d", exitErr.ExitCode())
	}
	if err != nil {
		return fmt.Errorf("shell command: %w", err)
	}
	return nil
}

// lineWriter turns a byte stream into log lines, keeping at most limit bytes.
type lineWriter struct {
	log   *execLog
	limit int

	mu        sync.Mutex
	partial   []byte
	written   int
	truncated bool
}

// Write logs every complete line in p.
func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	if w.truncated {
		return n, nil
	}
	if w.written+len(p) > w.limit {
		p = p[:w.limit-w.written]
		w.truncated = true
	}
	w.written += len(p)
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.log.add(strings.TrimRight(string(w.partial[:i]), "\r"))
		w.partial = w.partial[i+1:]
	}
	if w.truncated {
		w.flushLocked()
		w.log.addf("(output truncated after %d bytes)", w.limit)
	}
	return n, nil
}

// flush logs a trailing line without a newline.
func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
}

func (w *lineWriter) flushLocked() {
	if len(w.partial) > 0 {
		w.log.add(string(w.partial))
		w.partial = nil
	}
}
