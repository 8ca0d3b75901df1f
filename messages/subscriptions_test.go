package messages

import "testing"

// Loopback and link-local targets are refused in every form a resolver
// reads as an address, not only the dotted quad.
func TestCheckSubscriptionURLLoopbackForms(t *testing.T) {
	for _, u := range []string{
		"http://127.0.0.1/", "http://127.0.0.2:8080/x", "http://localhost/", "http://[::1]/",
		"http://[::ffff:127.0.0.1]/", "http://169.254.169.254/latest", "http://[fe80::1]/", "http://0.0.0.0/",
		"http://127.1/", "http://127.0.1/", "http://2130706433/", "http://0x7f000001/", "http://0x7F.1/",
		"http://0177.0.0.1/", "http://017700000001/", "http://169.254.43518/", "http://0/",
	} {
		if err := CheckSubscriptionURL(u, false); err == nil {
			t.Errorf("%s: accepted, want refused", u)
		}
		if err := CheckSubscriptionURL(u, true); err != nil {
			t.Errorf("%s with loopback allowed: %v", u, err)
		}
	}
	for _, u := range []string{
		"https://hooks.example.com/x", "http://10.0.0.1/", "http://8.8.8.8/", "http://128.1/", "http://0128.0.0.1/",
		"http://1.2.3.4.5/", "http://127.0.0.256/", "http://host-127.1.example/", "http://0x/", "http://[2001:db8::1]/",
	} {
		if err := CheckSubscriptionURL(u, false); err != nil {
			t.Errorf("%s: %v, want accepted", u, err)
		}
	}
}
