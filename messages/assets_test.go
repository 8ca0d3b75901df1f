package messages

import (
	"reflect"
	"strings"
	"testing"
)

func TestCheckAssetName(t *testing.T) {
	for _, ok := range []string{"a", "ERP_login-2", " padded ", strings.Repeat("x", 100)} {
		if _, err := CheckAssetName(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "  ", "a.b", "with space", "ümlaut", "a/b", "{x}", strings.Repeat("x", 101), "a\x00"} {
		if _, err := CheckAssetName(bad); ErrorCode(err) != CodeValidation {
			t.Errorf("%q accepted (%v)", bad, err)
		}
	}
}

func TestAssetRefs(t *testing.T) {
	graph := `{"nodes":[` +
		`{"id":"a","type":"http","params":{"url":"https://x/{{asset:site}}","headers":{"{{asset:key-in-a-key}}":"{{ asset:erp.password }}"},"n":1,"list":[{"deep":"{{asset:erp.username}}{{asset:site}}"}]}},` +
		`{"id":"b","type":"log","params":{"message":"no reference {{ other }} {asset:x}"}},` +
		`{"id":"c","type":"start"}],"edges":[]}`
	refs, err := AssetRefs(graph)
	if err != nil {
		t.Fatal(err)
	}
	want := []AssetRef{{"erp", "password"}, {"erp", "username"}, {"site", ""}}
	if !reflect.DeepEqual(refs, want) {
		t.Fatalf("refs = %v, want %v", refs, want)
	}
	if names := AssetRefNames(refs); !reflect.DeepEqual(names, []string{"erp", "site"}) {
		t.Fatalf("names = %v", names)
	}
	for _, bad := range []string{"{{asset:}}", "{{asset:a.b.c}}", "{{asset:a.value}}", "{{asset:a b}}", "{{asset:ü}}"} {
		g := `{"nodes":[{"id":"n","type":"log","params":{"message":"x ` + bad + `"}}],"edges":[]}`
		if _, err := AssetRefs(g); ErrorCode(err) != CodeValidation || !strings.Contains(err.Error(), `"n"`) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if refs, err := AssetRefs(`{"nodes":[{"id":"n","type":"log","params":{"message":"hi"}}],"edges":[]}`); err != nil || refs != nil {
		t.Fatalf("none: %v %v", refs, err)
	}
}

func TestCheckAssetDescription(t *testing.T) {
	for _, ok := range []string{"", "line one\r\nline two\tand a tab", "\u05e9\u05dc\u05d5\u05dd \u200f", strings.Repeat("é", MaxAssetDescription)} {
		if err := CheckAssetDescription(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"a\x00b", "red \x1b[31m", "bell\x07", "del\x7f", "c1\u0085", strings.Repeat("a", MaxAssetDescription+1)} {
		if err := CheckAssetDescription(bad); ErrorCode(err) != CodeValidation {
			t.Errorf("%q: %v, want VALIDATION_ERROR", bad, err)
		}
	}
}
