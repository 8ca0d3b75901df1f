package client

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// API is a connection to one server: its base URL, a token sent as
// `Authorization: Bearer`, and an HTTP client that trusts the configured CA.
type API struct {
	Base  string
	Token string
	HTTP  *http.Client
}

// APIError is an answer outside 2xx: the server's {"error","code"} when it
// sent one.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("%s (%d %s)", e.Message, e.Status, e.Code)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
}

// TLSOptions say which server certificates a client trusts.
type TLSOptions struct {
	// CACert is a PEM file whose certificates are trusted besides the
	// system's (the server's self-signed data-dir certificate, say).
	CACert string
	// InsecureSkipVerify accepts any certificate (testing only).
	InsecureSkipVerify bool
}

// newHTTPClient builds an HTTP client for the TLS options.
func newHTTPClient(o TLSOptions) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify} //nolint:gosec // asked for explicitly
	if o.CACert != "" {
		pem, err := os.ReadFile(o.CACert)
		if err != nil {
			return nil, fmt.Errorf("--ca-cert: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-cert %s holds no PEM certificate", o.CACert)
		}
		cfg.RootCAs = pool
	}
	tr.TLSClientConfig = cfg
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}, nil
}

// normalizeServer checks a server URL and drops a trailing slash.
func normalizeServer(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", fmt.Errorf("--server must be an http or https URL such as https://localhost:4545, got %q", s)
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/"), nil
}

// Do sends a request with an optional JSON body and answers the raw JSON
// of a 2xx answer; anything else is an *APIError.
func (a *API) Do(method, path string, body any) (json.RawMessage, *http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.Base+path, rd)
	if err != nil {
		return nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if a.Token != "" {
		req.Header.Set("Authorization", "Bearer "+a.Token)
	}
	resp, err := a.HTTP.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w%s", method, a.Base+path, err, tlsHint(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, resp, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &APIError{Status: resp.StatusCode}
		var eb struct{ Error, Code string }
		if json.Unmarshal(data, &eb) == nil && eb.Error != "" {
			e.Message, e.Code = eb.Error, eb.Code
		} else {
			e.Message = strings.TrimSpace(string(data))
			if len(e.Message) > 200 {
				e.Message = e.Message[:200]
			}
		}
		return nil, resp, e
	}
	return data, resp, nil
}

// Get is Do for a GET that decodes the answer into v.
func (a *API) Get(path string, v any) error {
	data, _, err := a.Do(http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// isNotFound reports a 404 answer.
func isNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// tlsHint says what to do when the server's certificate is not trusted
// (the self-signed one a server makes in its data dir, typically).
func tlsHint(err error) string {
	var unknown x509.UnknownAuthorityError
	var verify *tls.CertificateVerificationError
	if errors.As(err, &unknown) || (errors.As(err, &verify) && errors.As(verify.Err, &unknown)) {
		return " (the server's certificate is not trusted here: pass --ca-cert with it, e.g. <data dir>/tls.crt of a server that made its own, or set EXEKRA_CA_CERT)"
	}
	return ""
}
