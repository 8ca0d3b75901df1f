package httpd

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"
)

func TestLimiterTokenBucket(t *testing.T) {
	l := newLimiter(60) // one per second, burst 60
	now := time.Unix(1000, 0)
	for i := 0; i < 60; i++ {
		if r := l.take("a", now); !r.allowed || r.remaining != 59-i {
			t.Fatalf("request %d: %+v", i, r)
		}
	}
	r := l.take("a", now)
	if r.allowed || r.retryAfter <= 0 || r.retryAfter > time.Second {
		t.Fatalf("over the limit: %+v", r)
	}
	if !l.take("b", now).allowed {
		t.Fatal("clients share a bucket")
	}
	if r := l.take("a", now.Add(1100*time.Millisecond)); !r.allowed {
		t.Fatalf("refill: %+v", r)
	}
	if r := l.take("a", now.Add(10*time.Minute)); !r.allowed || r.remaining != 59 {
		t.Fatalf("full after idle: %+v", r)
	}
}

func TestTokensPinnedAndExpiring(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	tk := newTokens([]byte("0123456789abcdef0123456789abcdef"), clock)
	text, c, err := tk.issue(kindUser, "u1", 3, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tk.verify(text)
	if err != nil || got.Subject != "u1" || got.Epoch != 3 || got.ID != c.ID {
		t.Fatalf("verify: %+v %v", got, err)
	}
	// Cached answers still honour expiry.
	now = now.Add(2 * time.Hour)
	if _, err := tk.verify(text); err == nil {
		t.Fatal("expired token accepted from cache")
	}
	fresh := newTokens([]byte("0123456789abcdef0123456789abcdef"), clock)
	if _, err := fresh.verify(text); err == nil {
		t.Fatal("expired token accepted")
	}
	// Another key, another algorithm, none.
	other := newTokens([]byte("ffffffffffffffffffffffffffffffff"), clock)
	otherText, _, _ := other.issue(kindUser, "u1", 1, time.Hour)
	if _, err := tk.verify(otherText); err == nil {
		t.Fatal("token of another key accepted")
	}
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, &claims{Kind: kindUser, RegisteredClaims: jwt.RegisteredClaims{
		ID: "x", Subject: "u1", ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}}).SignedString([]byte("0123456789abcdef0123456789abcdef"))
	if _, err := tk.verify(hs512); err == nil {
		t.Fatal("HS512 accepted")
	}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, &claims{Kind: kindUser, RegisteredClaims: jwt.RegisteredClaims{
		ID: "x", Subject: "u1", ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if _, err := tk.verify(none); err == nil {
		t.Fatal("alg none accepted")
	}
	noExp, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, &claims{Kind: kindUser, RegisteredClaims: jwt.RegisteredClaims{
		ID: "x", Subject: "u1"}}).SignedString([]byte("0123456789abcdef0123456789abcdef"))
	if _, err := tk.verify(noExp); err == nil {
		t.Fatal("token without expiry accepted")
	}
}

// Only JSON's own whitespace may surround the body: a Unicode space (NBSP,
// NEL) makes it invalid JSON, as the decoder would say.
func TestTrimJSONSpace(t *testing.T) {
	for in, want := range map[string]string{
		" \t\r\n{}\n":     "{}",
		"\u00a0{}":        "\u00a0{}",
		"{}\u0085":        "{}\u0085",
		"\u2003{\"a\":1}": "\u2003{\"a\":1}",
	} {
		if got := string(trimJSONSpace([]byte(in))); got != want {
			t.Errorf("trimJSONSpace(%q) = %q, want %q", in, got, want)
		}
	}
	var v struct{}
	if err := decodeBytes(trimJSONSpace([]byte("{}\u0085")), &v); err == nil {
		t.Error("a body followed by NEL decoded")
	}
}

func TestDecodeBytes(t *testing.T) {
	type body struct {
		Name *string `json:"name"`
		N    *int    `json:"n"`
	}
	for in, wantErr := range map[string]string{
		`{"name":"a","n":1}`:  "",
		`{"name":"a","x":{}}`: "",
		`{"n":"one"}`:         `"n" must be a number`,
		`null`:                "JSON object",
		`[1]`:                 "JSON object",
		"{\"name\":\"\xff\"}": "UTF-8",
		`{"name":"a"} {}`:     "single JSON object",
		`{"name":"a"}}`:       "single JSON object",
		`{"name":"a"}]`:       "single JSON object",
		`{"name":`:            "not valid JSON",
	} {
		var b body
		err := decodeBytes([]byte(in), &b)
		if wantErr == "" && err != nil || wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
			t.Errorf("%q: %v (want %q)", in, err, wantErr)
		}
	}
}

func TestPanicInHandlerIs500JSONAndRequestID(t *testing.T) {
	var logs bytes.Buffer
	srv := newTestServer(Config{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Extra: []Route{{Method: "GET", Path: "/api/boom", Access: Public, BeforeReady: true,
			Handle: func(*Server, *fasthttp.RequestCtx, *request) error { panic("kaboom: internal detail") }}},
	}, &fuzzCore{})
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/api/boom")
	ctx.Request.Header.Set("X-Request-Id", "client-id-1")
	srv.Handler()(&ctx)
	body := string(ctx.Response.Body())
	if ctx.Response.StatusCode() != 500 || !strings.Contains(body, `"code":"INTERNAL"`) || strings.Contains(body, "kaboom") {
		t.Fatalf("panic answer: %d %s", ctx.Response.StatusCode(), body)
	}
	if string(ctx.Response.Header.Peek("X-Request-Id")) != "client-id-1" {
		t.Fatalf("request id not echoed: %q", ctx.Response.Header.Peek("X-Request-Id"))
	}
	if !strings.Contains(logs.String(), "kaboom") || !strings.Contains(logs.String(), "client-id-1") {
		t.Fatalf("the panic is not logged with its request id: %s", logs.String())
	}
}

// Requests without an X-Request-Id get one: unique within a server and
// across two servers (restarts), and sent back in the header.
func TestGeneratedRequestIDsAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 2 {
		srv := newTestServer(Config{}, &fuzzCore{})
		h := srv.Handler()
		for range 1000 {
			var ctx fasthttp.RequestCtx
			ctx.Request.SetRequestURI("/api/health")
			h(&ctx)
			id := string(ctx.Response.Header.Peek("X-Request-Id"))
			if id == "" || seen[id] {
				t.Fatalf("request id %q missing or repeated", id)
			}
			seen[id] = true
		}
	}
}
