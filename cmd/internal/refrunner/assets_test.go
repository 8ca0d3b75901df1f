package refrunner

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

const (
	testAssetPassword = `pa"ss/wo rd&7`
	testAssetKey      = "api-KEY-0123456789"
)

func sp(s string) *string { return &s }

// testAssets is a hand-over with one asset of each type.
func testAssets() map[string]AssetValue {
	return map[string]AssetValue{
		"erp":    {Type: AssetCredential, Username: sp("robot-7"), Password: sp(testAssetPassword)},
		"ApiKey": {Type: AssetSecret, Value: sp(testAssetKey)},
		"site":   {Type: AssetText, Value: sp("erp.example.com")},
	}
}

func TestSubstituteAssets(t *testing.T) {
	a := testAssets()
	for in, want := range map[string]string{
		"plain":                  "plain",
		"{{asset:erp.username}}": "robot-7",
		"u={{ asset:erp.username }}&p={{asset:erp.password}}": "u=robot-7&p=" + testAssetPassword,
		"{{asset:apikey}} at {{asset:site}}":                  testAssetKey + " at erp.example.com", // any case
		"{{ not an asset }} {asset:site}":                     "{{ not an asset }} {asset:site}",
	} {
		got, err := substituteAssets(in, a)
		if err != nil || got != want {
			t.Errorf("%q → %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"{{asset:missing}}", "{{asset:erp}}", "{{asset:ApiKey.password}}", "{{asset:a.b.c}}"} {
		if _, err := substituteAssets(bad, a); err == nil {
			t.Errorf("%q: no error", bad)
		} else if strings.Contains(err.Error(), testAssetPassword) || strings.Contains(err.Error(), testAssetKey) {
			t.Errorf("%q: the error quotes a secret: %v", bad, err)
		}
	}
}

func TestResolveAssetsInParams(t *testing.T) {
	n := Node{ID: "h", Type: NodeHTTP, Params: json.RawMessage(`{"url":"https://{{asset:site}}/x","timeoutMs":1500,` +
		`"headers":{"{{asset:site}}":"{{asset:erp.password}}"},"list":[{"deep":"{{asset:ApiKey}}"}],"flag":true,"n":1e3}`)}
	got, err := resolveAssets(n, testAssets())
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(got.Params, &p); err != nil {
		t.Fatal(err)
	}
	h := p["headers"].(map[string]any)
	if p["url"] != "https://erp.example.com/x" || h["{{asset:site}}"] != testAssetPassword ||
		p["list"].([]any)[0].(map[string]any)["deep"] != testAssetKey || p["flag"] != true || p["timeoutMs"] != 1500.0 {
		t.Fatalf("params = %s", got.Params)
	}
	if !strings.Contains(string(got.Params), `"n":1e3`) {
		t.Errorf("numbers are not kept as written: %s", got.Params)
	}
	if _, err := resolveAssets(Node{ID: "x", Type: NodeLog, Params: json.RawMessage(`{"message":"{{asset:nope}}"}`)}, testAssets()); err == nil ||
		!strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown asset: %v", err)
	}
}

func TestMaskerHidesEveryFormOfASecret(t *testing.T) {
	assets := testAssets()
	assets["key"] = AssetValue{Type: AssetSecret, Value: sp("-----BEGIN KEY-----\nAAAA1111\r\n-----END KEY-----")}
	m := newMasker(assets)
	q, _ := json.Marshal(testAssetPassword)
	for _, leak := range []string{
		testAssetPassword, testAssetKey, string(q), url.QueryEscape(testAssetPassword), url.PathEscape(testAssetPassword),
		"line AAAA1111 of a key", "-----BEGIN KEY-----\nAAAA1111\r\n-----END KEY-----",
	} {
		out := m.mask("before " + leak + " after")
		for _, secret := range []string{testAssetPassword, testAssetKey, "AAAA1111", url.QueryEscape(testAssetPassword), string(q[1 : len(q)-1])} {
			if strings.Contains(out, secret) {
				t.Errorf("mask(%q) = %q still holds %q", leak, out, secret)
			}
		}
		if !strings.Contains(out, maskText) {
			t.Errorf("mask(%q) = %q", leak, out)
		}
	}
	// TEXT values and usernames stay readable.
	if out := m.mask("robot-7 on erp.example.com"); out != "robot-7 on erp.example.com" {
		t.Errorf("masked a username or TEXT value: %q", out)
	}
	if newMasker(map[string]AssetValue{"t": {Type: AssetText, Value: sp("x")}}) != nil {
		t.Error("a hand-over without secrets needs no masker")
	}
	var none *masker
	if none.mask("x") != "x" {
		t.Error("a nil masker changed the text")
	}
}

// TestAssetsSubstitutedAndNeverLogged runs a graph that uses a
// CREDENTIAL and a SECRET (handed over at the poll answer's top level):
// the site receives the values, while the execution log, the error
// reported and the runner's own log show *** in their place.
func TestAssetsSubstitutedAndNeverLogged(t *testing.T) {
	var mu sync.Mutex
	var gotUser, gotPass, gotKey string
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		gotUser, gotPass, _ = r.BasicAuth()
		gotKey = r.Header.Get("X-Api-Key")
	}))
	defer target.Close()
	f := newFakeOrchestrator(t)
	logs := &syncBuffer{}
	startRunner(t, testConfig(f.srv.URL, logs))
	graph := graphJSON(t,
		node("s", "start", nil),
		node("hello", "log", map[string]any{"message": "logging in as {{asset:erp.username}} with {{asset:erp.password}} and {{asset:ApiKey}}"}),
		node("login", "http", map[string]any{"method": "POST", "url": target.URL + "/login?key={{asset:ApiKey}}",
			"headers": map[string]any{"Authorization": "Basic {{asset:basic}}", "X-Api-Key": "{{asset:ApiKey}}"}}),
		node("boom", "fail", map[string]any{"message": "rejected password {{asset:erp.password}}"}),
	)
	f.mu.Lock()
	f.handOver = map[string]map[string]AssetValue{}
	f.mu.Unlock()
	id := f.enqueue(graph)
	assets := testAssets()
	basic := "cm9ib3QtNzpzZWNyZXQ=" // robot-7:secret, as a TEXT asset would hold a precomputed header
	assets["basic"] = AssetValue{Type: AssetText, Value: sp(basic)}
	f.with(func() { f.handOver[id] = assets })

	final := waitTerminal(t, f, id)
	if final.Status != StatusFailed || final.Error != "rejected password "+maskText {
		t.Fatalf("final = %+v, want FAILED with the password masked", final)
	}
	mu.Lock()
	if gotUser != "robot-7" || gotPass != "secret" || gotKey != testAssetKey {
		t.Errorf("the site got user %q pass %q key %q", gotUser, gotPass, gotKey)
	}
	mu.Unlock()
	all := f.allLogs(id)
	if !strings.Contains(all, "logging in as robot-7 with *** and ***") {
		t.Errorf("log line not substituted and masked:\n%s", all)
	}
	for _, secret := range []string{testAssetPassword, testAssetKey, url.QueryEscape(testAssetPassword)} {
		if strings.Contains(all, secret) {
			t.Errorf("the execution log holds a secret:\n%s", all)
		}
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the runner's log holds a secret")
		}
	}
	assertNoSecretsLogged(t, f, logs)
}

func TestUnknownAssetFailsBeforeRunningAnything(t *testing.T) {
	f := newFakeOrchestrator(t)
	startRunner(t, testConfig(f.srv.URL, &syncBuffer{}))
	id := f.enqueue(graphJSON(t,
		node("first", "log", map[string]any{"message": "must not run"}),
		node("uses", "log", map[string]any{"message": "{{asset:gone}}"}),
	))
	final := waitTerminal(t, f, id)
	if final.Status != StatusFailed || !strings.Contains(final.Error, `asset "gone" was not handed over`) {
		t.Fatalf("final = %+v", final)
	}
	if strings.Contains(f.allLogs(id), "must not run") {
		t.Error("a node ran before the missing asset was noticed")
	}
}
