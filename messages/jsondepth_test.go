package messages

import (
	"encoding/json"
	"strings"
	"testing"
)

func nestedObjects(depth int) string {
	if depth == 0 {
		return "1"
	}
	return strings.Repeat(`{"a":`, depth-1) + "{}" + strings.Repeat("}", depth-1)
}

func TestJSONDepth(t *testing.T) {
	cases := []struct {
		doc  string
		want int
	}{
		{``, 0},
		{`1`, 0},
		{`"x"`, 0},
		{`{}`, 1},
		{`[]`, 1},
		{`[1,[2,[3]]]`, 3},
		{`{"a":{"b":[{}]}}`, 4},
		{`{"a":"{{{{[[["}`, 1},           // brackets inside strings do not count
		{`{"a":"\"{{{"}`, 1},             // nor after an escaped quote
		{`{"a":"\\"}`, 1},                // an escaped backslash ends before the quote
		{`{"a":"\\\"[[[["}`, 1},          // escaped backslash then escaped quote
		{`{"a\"{":[1,{"b\\":[[]]}]}`, 5}, // escapes in keys
		{`[[]][[[]]]`, 3},                // siblings: the deepest counts
		{`]]]]{}`, 1},                    // stray closers do not go below zero
		{nestedObjects(128), 128},
		{nestedObjects(129), 129},
	}
	for _, c := range cases {
		if got := JSONDepth([]byte(c.doc), 0); got != c.want {
			t.Errorf("JSONDepth(%.40q) = %d, want %d", c.doc, got, c.want)
		}
	}
	// the limit stops the scan one level past it
	if got := JSONDepth([]byte(nestedObjects(100000)), 128); got != 129 {
		t.Fatalf("limited: %d", got)
	}
}

func TestCheckJSONDepth(t *testing.T) {
	if err := CheckJSONDepth("input", []byte(nestedObjects(MaxJSONDepth))); err != nil {
		t.Fatal(err)
	}
	err := CheckJSONDepth("input", []byte(nestedObjects(MaxJSONDepth+1)))
	if ErrorCode(err) != CodeValidation || !strings.Contains(ErrorMessage(err), "input is nested deeper than 128 levels") {
		t.Fatalf("129 levels: %v", err)
	}
	// the envelope: a body carrying a 128-level input is accepted, one more is not
	body := `{"workflowId":"w","input":` + nestedObjects(MaxJSONDepth) + `}`
	if err := CheckEnvelopeDepth([]byte(body)); err != nil {
		t.Fatal(err)
	}
	body = `{"workflowId":"w","input":` + nestedObjects(MaxJSONDepth+1) + `}`
	if ErrorCode(CheckEnvelopeDepth([]byte(body))) != CodeValidation {
		t.Fatal("a 129-level input in a body passed")
	}
	// any other field of the body: 128 levels in all
	body = `{"name":"w","extra":` + nestedObjects(MaxJSONDepth) + `}`
	if ErrorCode(CheckEnvelopeDepth([]byte(body))) != CodeValidation {
		t.Fatal("a 129-level body passed through a field that is not a document")
	}
	body = `{"name":"w","extra":` + nestedObjects(MaxJSONDepth-1) + `}`
	if err := CheckEnvelopeDepth([]byte(body)); err != nil {
		t.Fatal(err)
	}
}

func TestJSONDepthAllocatesNothing(t *testing.T) {
	doc := []byte(`{"a":[1,2,{"b":"c\"d"}],"e":{"f":{"g":[[[]]]}}}`)
	if n := testing.AllocsPerRun(100, func() { JSONDepth(doc, MaxJSONDepth) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// FuzzJSONDepth checks the scanner against encoding/json: for every valid
// document the depth is the decoder's, found by walking the decoded value.
func FuzzJSONDepth(f *testing.F) {
	for _, s := range []string{`{}`, `[[1],{"a":"]"}]`, `{"\\":"\"["}`, `"[["`, `[` + nestedObjects(130) + `]`,
		`{"a":[{"b":[{"c":[]}]}]}`, `[1,"\u005b",[true,null]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := JSONDepth(b, 0)
		if limited := JSONDepth(b, 5); (got > 5) != (limited > 5) || (got <= 5 && limited != got) {
			t.Fatalf("limit 5: %d, unlimited %d", limited, got)
		}
		var v any
		if json.Unmarshal(b, &v) != nil {
			return
		}
		if want := depthOf(v); got != want {
			t.Fatalf("JSONDepth(%q) = %d, decoder says %d", b, got, want)
		}
	})
}

func depthOf(v any) int {
	max := 0
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			if d := depthOf(e); d > max {
				max = d
			}
		}
		return max + 1
	case []any:
		for _, e := range x {
			if d := depthOf(e); d > max {
				max = d
			}
		}
		return max + 1
	}
	return 0
}
