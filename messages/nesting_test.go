package messages

import (
	"strings"
	"testing"
)

func TestCheckNesting(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	for _, tc := range []struct {
		name string
		text string
		ok   bool
	}{
		{"flat", `{"a":1}`, true},
		{"128 levels", deep(128), true},
		{"129 levels", deep(129), false},
		{"objects", strings.Repeat(`{"a":`, 129) + "1" + strings.Repeat("}", 129), false},
		{"brackets inside strings", `{"a":"` + strings.Repeat("[", 1000) + `"}`, true},
		{"escaped quote inside a string", `{"a":"\"` + strings.Repeat("[", 1000) + `"}`, true},
		{"escaped backslash ends the string", `{"a":"\\"` + "," + `"b":` + deep(129) + `}`, false},
		{"sequential, not nested", strings.Repeat(deep(100), 10), true},
	} {
		if err := CheckNesting(tc.text); (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err := CheckNesting([]byte(tc.text)); (err == nil) != tc.ok {
			t.Errorf("%s (bytes): %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
