package client

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A server whose certificate the client does not trust: the error says
// what to pass; another error gets no such hint.
func TestUntrustedCertificateErrorNamesCACert(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) }))
	defer srv.Close()
	hc, err := newHTTPClient(TLSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = (&API{Base: srv.URL, HTTP: hc}).Do("GET", "/api/health", nil)
	if err == nil || !strings.Contains(err.Error(), "pass --ca-cert") {
		t.Fatalf("untrusted certificate: %v", err)
	}
	srv.Close()
	_, _, err = (&API{Base: srv.URL, HTTP: hc}).Do("GET", "/api/health", nil)
	if err == nil || strings.Contains(err.Error(), "--ca-cert") {
		t.Fatalf("a closed server: %v", err)
	}
}
