package actors

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestOutboundClientRules(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	// Loopback is refused at connect time unless allowed.
	if _, err := outboundClient(false).Get(srv.URL); !errors.Is(err, errOutboundLoopback) {
		t.Fatalf("loopback without the flag: %v", err)
	}
	c := outboundClient(true)
	resp, err := c.Get(srv.URL)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("loopback with the flag: %v %v", resp, err)
	}
	resp.Body.Close()
	// A redirect is the answer, not followed.
	resp, err = c.Get(srv.URL + "/redirect")
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("redirect: %v %v", resp, err)
	}
	resp.Body.Close()
}
