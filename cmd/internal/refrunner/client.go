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
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrCredentialsRejected means the orchestrator refused the machine key and
// secret (unknown, regenerated or deleted runner); the runner cannot go on.
var ErrCredentialsRejected = errors.New("the orchestrator rejected the machine credentials")

// maxResponseBytes bounds how much of any orchestrator answer is read.
const maxResponseBytes = 16 << 20

// APIError is a non-2xx answer from the orchestrator.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Code is the error code from the JSON error body, if any.
	Code string
	// Message is the human message from the JSON error body, if any.
	Message string
	// RetryAfter is the server's Retry-After hint, zero if absent.
	RetryAfter time.Duration
}

// Error describes the answer without echoing anything sensitive.
func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Code != "" {
		return fmt.Sprintf("orchestrator answered %d %s: %s", e.Status, e.Code, msg)
	}
	return fmt.Sprintf("orchestrator answered %d: %s", e.Status, msg)
}

// permanent reports whether repeating the same request cannot succeed.
func (e *APIError) permanent() bool {
	switch {
	case e.Status >= 500, e.Status == http.StatusTooManyRequests, e.Status == http.StatusRequestTimeout:
		return false
	default:
		return e.Status >= 400
	}
}

// isPermanent reports whether err is an orchestrator answer that a retry will not change.
func isPermanent(err error) bool {
	if errors.Is(err, ErrCredentialsRejected) {
		return true
	}
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.permanent()
}

// retryHint returns the server's Retry-After for err, zero when it gave none.
func retryHint(err error) time.Duration {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.RetryAfter
	}
	return 0
}

// runnerInfo is the part of the authenticate answer the runner logs.
type runnerInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// client speaks the runner side of the orchestrator API and owns the runner token.
type client struct {
	base    *url.URL
	hc      *http.Client
	key     string
	secret  string
	timeout time.Duration
	now     func() time.Time

	authMu sync.Mutex // serialises authentication

	mu      sync.Mutex // guards the fields below
	token   string
	expires time.Time     // zero when the server did not say
	margin  time.Duration // renew this long before expires
	runner  runnerInfo
}

// newClient returns a client for cfg (already defaulted).
func newClient(cfg Config) *client {
	base, _ := url.Parse(strings.TrimRight(cfg.URL, "/"))
	return &client{
		base:    base,
		hc:      cfg.HTTPClient,
		key:     cfg.MachineKey,
		secret:  cfg.MachineSecret,
		timeout: cfg.RequestTimeout,
		now:     cfg.Now,
	}
}

// authenticate exchanges the machine credentials for a runner token.
func (c *client) authenticate(ctx context.Context) (runnerInfo, error) {
	body := map[string]string{"machineKey": c.key, "machineSecret": c.secret}
	var out struct {
		Token     string     `json:"token"`
		ExpiresAt string     `json:"expiresAt"`
		Runner    runnerInfo `json:"runner"`
	}
	status, err := c.send(ctx, http.MethodPost, "/api/runners/authenticate", nil, "", body, &out, c.timeout)
	if err != nil {
		if status == http.StatusUnauthorized || status == http.StatusForbidden {
			return runnerInfo{}, fmt.Errorf("%w (%v)", ErrCredentialsRejected, err)
		}
		return runnerInfo{}, fmt.Errorf("authenticate: %w", err)
	}
	if out.Token == "" {
		return runnerInfo{}, errors.New("authenticate: the answer carries no token")
	}
	expires, perr := time.Parse(time.RFC3339Nano, out.ExpiresAt)
	if perr != nil || !expires.After(c.now()) {
		// Unknown, or already past by our clock (skew): rely on 401 to re-authenticate.
		expires = time.Time{}
	}
	margin := min(5*time.Minute, expires.Sub(c.now())/10)
	c.mu.Lock()
	c.token, c.expires, c.margin, c.runner = out.Token, expires, margin, out.Runner
	c.mu.Unlock()
	return out.Runner, nil
}

// currentToken returns a token that is not about to expire, authenticating when needed.
func (c *client) currentToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	tok, fresh := c.token, !c.expiringSoonLocked()
	c.mu.Unlock()
	if tok != "" && fresh {
		return tok, nil
	}
	return c.reauthenticate(ctx, tok)
}

// expiringSoonLocked reports whether the current token should be renewed now:
// within five minutes of its expiry, or within the last tenth of a shorter
// lifetime. The caller holds c.mu.
func (c *client) expiringSoonLocked() bool {
	if c.expires.IsZero() {
		return false
	}
	return c.expires.Sub(c.now()) < c.margin
}

// reauthenticate replaces stale (the token a caller saw fail or expire) with a
// fresh one; concurrent callers holding the same stale token authenticate once.
func (c *client) reauthenticate(ctx context.Context, stale string) (string, error) {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	c.mu.Lock()
	if c.token != stale && c.token != "" && !c.expiringSoonLocked() {
		tok := c.token
		c.mu.Unlock()
		return tok, nil
	}
	c.mu.Unlock()
	if _, err := c.authenticate(ctx); err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token, nil
}

// do calls a runner endpoint with the bearer token, re-authenticating once on 401.
func (c *client) do(ctx context.Context, method, path string, query url.Values, in, out any, timeout time.Duration) error {
	tok, err := c.currentToken(ctx)
	if err != nil {
		return err
	}
	status, err := c.send(ctx, method, path, query, tok, in, out, timeout)
	if status != http.StatusUnauthorized {
		return err
	}
	tok, err = c.reauthenticate(ctx, tok)
	if err != nil {
		return err
	}
	_, err = c.send(ctx, method, path, query, tok, in, out, timeout)
	return err
}

// send performs one request and decodes a 2xx JSON answer into out; it returns
// the HTTP status (0 when no answer came) and an *APIError for non-2xx answers.
func (c *client) send(ctx context.Context, method, path string, query url.Values, token string, in, out any, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := *c.base
	u.Path = c.base.Path + path
	if query != nil {
		u.RawQuery = query.Encode()
	}
	var body io.Reader
	if in != nil {
		buf, err := json.Marshal(in)
		if err != nil {
			return 0, fmt.Errorf("encode %s body: %w", path, err)
		}
		body = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return 0, fmt.Errorf("build %s request: %w", path, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, unwrapURLError(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := &APIError{Status: resp.StatusCode}
		var eb struct {
			Error string `json:"error"`
			Code  string `json:"code"`
		}
		if json.Unmarshal(raw, &eb) == nil {
			apiErr.Code, apiErr.Message = eb.Code, eb.Error
		}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			apiErr.RetryAfter = time.Duration(s) * time.Second
		}
		return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, apiErr)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// unwrapURLError drops the *url.Error wrapper, whose text repeats the full URL.
func unwrapURLError(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}
