package messages

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLicenseSignParseAndStates(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	l := License{ID: "lic1", Email: "a@example.com", Organization: "Acme", IssuedAt: now.Unix(),
		ExpiresAt: now.Add(48 * time.Hour).Unix(), GraceDays: 2, Limits: LicenseLimits{Runners: 3}}
	text, err := SignLicense(l, priv)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseLicense("  "+text+"\n", pub)
	if err != nil || *got != l {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for _, tc := range []struct {
		at   time.Time
		want LicenseState
		days int
	}{
		{now, LicenseActive, 2},
		{now.Add(47 * time.Hour), LicenseActive, 1},
		{now.Add(49 * time.Hour), LicenseGrace, 0},
		{now.Add(96*time.Hour + time.Second), LicenseExpired, 0},
	} {
		if s := got.StateAt(tc.at); s != tc.want {
			t.Errorf("at %v: %s, want %s", tc.at, s, tc.want)
		}
		if d := got.DaysRemaining(tc.at); d != tc.days {
			t.Errorf("at %v: %d days, want %d", tc.at, d, tc.days)
		}
	}
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := ParseLicense(text, otherPub); !errors.Is(err, ErrLicenseSignature) || ErrorCode(err) != CodeValidation {
		t.Fatalf("other key: %v", err)
	}
	parts := strings.Split(text, ".")
	for name, bad := range map[string]string{
		"empty":         "",
		"two parts":     parts[0] + "." + parts[1],
		"tampered":      parts[0] + "." + parts[1] + "x." + parts[2],
		"alg none":      "eyJhbGciOiJub25lIn0." + parts[1] + ".",
		"bad signature": parts[0] + "." + parts[1] + ".AAAA",
	} {
		if _, err := ParseLicense(bad, pub); err == nil || ErrorCode(err) != CodeValidation {
			t.Errorf("%s: %v", name, err)
		}
	}
	privPEM, pubPEM, err := MarshalKeyPairPEM(pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	if p2, err := ParsePublicKeyPEM(pubPEM); err != nil || !p2.Equal(pub) {
		t.Fatalf("public PEM: %v", err)
	}
	if k2, err := ParsePrivateKeyPEM(privPEM); err != nil || !k2.Equal(priv) {
		t.Fatalf("private PEM: %v", err)
	}
	if _, err := ParsePublicKeyPEM([]byte("junk")); err == nil {
		t.Fatal("junk PEM accepted")
	}
}

func FuzzParseLicense(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	good, _ := SignLicense(License{ID: "x", Email: "a@b.c", ExpiresAt: 1}, priv)
	for _, s := range []string{good, "", "a.b.c", "....", "eyJhbGciOiJFZERTQSJ9.e30.AAAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLicense(s, pub)
		if err == nil && (l == nil || l.ID == "") {
			t.Fatal("accepted without claims")
		}
		if err != nil && ErrorCode(err) != CodeValidation {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}

func TestTimeJSON(t *testing.T) {
	var zero Time
	b, _ := json.Marshal(struct {
		A Time `json:"a"`
		B Time `json:"b"`
	}{A: zero, B: Time(1736942405123)})
	if string(b) != `{"a":null,"b":"2025-01-15T12:00:05.123Z"}` {
		t.Fatalf("encoded %s", b)
	}
	var back struct{ A, B Time }
	if err := json.Unmarshal(b, &back); err != nil || back.A != 0 || back.B != 1736942405123 {
		t.Fatalf("decoded %+v %v", back, err)
	}
	for in, ok := range map[string]bool{"2025-01-15": true, "2025-01-15T10:00:00Z": true, "2025-01-15T10:00:00.5+02:00": true, "yesterday": false, "": false} {
		if _, err := ParseTime(in); (err == nil) != ok {
			t.Errorf("ParseTime(%q): %v", in, err)
		}
	}
}

func TestIDsSortByTimeAndAreUnique(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	base := time.Now()
	for i := 0; i < 1000; i++ {
		id := NewID(base.Add(time.Duration(i) * time.Millisecond))
		if len(id) != 42 || seen[id] || id <= prev {
			t.Fatalf("id %q (prev %q)", id, prev)
		}
		seen[id], prev = true, id
	}
	// Made in the same millisecond, they still sort in creation order.
	prev = ""
	for i := 0; i < 1000; i++ {
		id := NewID(base)
		if id <= prev {
			t.Fatalf("same millisecond: %q after %q", id, prev)
		}
		prev = id
	}
	if h := RandomHex(32); len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		t.Fatalf("hex %q", h)
	}
}

func TestExecutionStateMachine(t *testing.T) {
	all := []ExecutionStatus{ExecQueued, ExecAssigned, ExecRunning, ExecCompleted, ExecFailed, ExecStopped}
	allowed := map[[2]ExecutionStatus]bool{
		{ExecQueued, ExecAssigned}: true, {ExecQueued, ExecFailed}: true, {ExecQueued, ExecStopped}: true,
		{ExecAssigned, ExecRunning}: true, {ExecAssigned, ExecQueued}: true, {ExecAssigned, ExecFailed}: true, {ExecAssigned, ExecStopped}: true,
		{ExecRunning, ExecRunning}: true, {ExecRunning, ExecCompleted}: true, {ExecRunning, ExecFailed}: true, {ExecRunning, ExecStopped}: true,
	}
	for _, from := range all {
		for _, to := range all {
			if got := CanTransition(from, to); got != allowed[[2]ExecutionStatus{from, to}] {
				t.Errorf("%s → %s: %v", from, to, got)
			}
		}
		if from.Terminal() != (from == ExecCompleted || from == ExecFailed || from == ExecStopped) {
			t.Errorf("%s terminal", from)
		}
	}
	if PriorityHigh.Rank() >= PriorityNormal.Rank() || PriorityNormal.Rank() >= PriorityLow.Rank() || Priority("X").Rank() != -1 {
		t.Fatal("priority ranks")
	}
	if p := NewPagination(2, 50, 123); p.TotalPages != 3 {
		t.Fatalf("pagination %+v", p)
	}
}

// Ids of earlier builds (22 bytes: time and 128 random bits) sort among
// today's by their time, so lists and createdAt ranges keep working over a
// database that holds both.
func TestOldAndNewIDsSortByTime(t *testing.T) {
	old := func(ms int64, fill byte) string {
		var b [22]byte
		binary.BigEndian.PutUint16(b[0:2], uint16(uint64(ms)>>32))
		binary.BigEndian.PutUint32(b[2:6], uint32(ms))
		for i := 6; i < len(b); i++ {
			b[i] = fill
		}
		return idEncoding.EncodeToString(b[:])
	}
	base := time.Now()
	ms := base.UnixMilli()
	for _, fill := range []byte{0x00, 0x5a, 0xff} {
		o := old(ms, fill)
		if before, after := NewID(base.Add(-time.Millisecond)), NewID(base.Add(time.Millisecond)); !(before < o && o < after) {
			t.Fatalf("old id %q does not sort between %q and %q", o, before, after)
		}
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"  Invoices  ":          "Invoices",
		"Zürich ✓":              "Zürich ✓",
		"":                      "empty",
		"   ":                   "empty",
		"a\x00b":                "control",
		"a\x1b[31mb":            "control",
		"a\nb":                  "control",
		"adm\u202ein":           "formatting", // right-to-left override
		"ad\u200dmin":           "formatting", // zero-width joiner
		"ad\u2066min\u2069":     "formatting", // left-to-right isolate
		"\ufeffadmin":           "formatting", // byte-order mark (zero-width no-break space)
		"ad\u00admin":           "formatting", // soft hyphen
		"مرحبا":                 "مرحبا",      // right-to-left script itself is fine
		strings.Repeat("x", 11): "at most 10",
	} {
		got, err := CleanName(in, 10)
		switch {
		case err == nil && got != want:
			t.Errorf("CleanName(%q) = %q, want %q", in, got, want)
		case err != nil && !strings.Contains(err.Error(), want):
			t.Errorf("CleanName(%q): %v, want %q", in, err, want)
		}
	}
}

func TestCheckDescription(t *testing.T) {
	for in, ok := range map[string]bool{
		"":                        true,
		"line 1\nline 2\tcol\r\n": true,
		"Zürich \u202e ✓":         true, // format characters are allowed in free text
		"a\x00b":                  false,
		"a\x1b[31mred":            false,
		"a\u0085b":                false, // C1 control
		"a\xffb":                  false, // invalid UTF-8
	} {
		err := CheckDescription("description", in)
		if (err == nil) != ok {
			t.Errorf("CheckDescription(%q) = %v, want ok=%v", in, err, ok)
		}
		if err != nil && (ErrorCode(err) != CodeValidation || !strings.Contains(err.Error(), "description")) {
			t.Errorf("CheckDescription(%q): %v", in, err)
		}
	}
}
