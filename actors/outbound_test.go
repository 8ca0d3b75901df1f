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
	if _, err := outboundClient(false).post(srv.URL, "evt_1", 1, []byte(`{}`)); !errors.Is(err, errOutboundLoopback) {
		t.Fatalf("loopback without the flag: %v", err)
	}
	c := outboundClient(true)
	if status, err := c.post(srv.URL, "evt_1", 1, []byte(`{}`), "whsec_x"); err != nil || status != http.StatusNoContent {
		t.Fatalf("loopback with the flag: %v %v", status, err)
	}
	// A redirect is the answer, not followed.
	if status, err := c.post(srv.URL+"/redirect", "evt_1", 1, []byte(`{}`)); err != nil || status != http.StatusFound {
		t.Fatalf("redirect: %v %v", status, err)
	}
}
