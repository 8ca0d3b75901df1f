package httpd

import (
	"strings"
	"testing"
)

func TestRedactTriggerPaths(t *testing.T) {
	id := "06h4mri97kdi2rov2kvfqmkdf37q9ldelhfq4l9eqc"
	for _, s := range []string{
		"POST /api/triggers/webhook/" + id + " HTTP/1.1",
		`"/api/triggers/` + id + `"`,
		"http://x/api/triggers/webhook/" + id + "?a=1",
		"/api/triggers/" + id + "/more",
	} {
		got := redactTriggerPaths(s)
		if strings.Contains(got, id) || !strings.Contains(got, "<redacted>") {
			t.Errorf("%q → %q", s, got)
		}
	}
	if got := redactTriggerPaths("GET /api/triggers?type=WEBHOOK"); got != "GET /api/triggers?type=WEBHOOK" {
		t.Errorf("list path changed: %q", got)
	}
}
