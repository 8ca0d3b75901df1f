package privfile

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

func TestModeProblem(t *testing.T) {
	for _, tc := range []struct {
		mode fs.FileMode
		bad  bool
		want fs.FileMode
	}{
		{0o600, false, 0o600},
		{0o400, false, 0o400},
		{0o700 | fs.ModeDir, false, 0o700},
		{0o644, true, 0o600},
		{0o640, true, 0o600},
		{0o604, true, 0o600},
		{0o755 | fs.ModeDir, true, 0o700},
		{0o777, true, 0o700},
	} {
		if got := modeProblem(tc.mode); (got != "") != tc.bad {
			t.Errorf("modeProblem(%v) = %q, want a problem: %v", tc.mode, got, tc.bad)
		}
		if got := privateMode(tc.mode); got != tc.want {
			t.Errorf("privateMode(%v) = %04o, want %04o", tc.mode, got, tc.want)
		}
	}
}

func TestPrivateSDDL(t *testing.T) {
	const svc = "S-1-5-80-1234-5678"
	for _, tc := range []struct {
		name     string
		accounts []string
		dir      bool
		want     string
	}{
		{"file for LocalSystem", []string{sidSystem}, false, "D:PAI(A;;FA;;;SY)(A;;FA;;;BA)"},
		{"dir for LocalSystem", []string{sidSystem}, true, "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"},
		{"file for a virtual account", []string{svc}, false, "D:PAI(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;" + svc + ")"},
		{"dir for an admin in a console", []string{"S-1-5-21-1-2-3-500", svc, svc}, true,
			"D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;S-1-5-21-1-2-3-500)(A;OICI;FA;;;" + svc + ")"},
		{"empty account", []string{""}, false, "D:PAI(A;;FA;;;SY)(A;;FA;;;BA)"},
	} {
		if got := privateSDDL(tc.accounts, tc.dir); got != tc.want {
			t.Errorf("%s: privateSDDL = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestACLProblems(t *testing.T) {
	const me = "S-1-5-21-9-9-9-1001"
	const fullControl, readOnly, readControl = 0x1F01FF, 0x120089, 0x20000 | 0x100000 | 0x80
	for _, tc := range []struct {
		name    string
		entries []ACE
		nilDACL bool
		want    []string
	}{
		{"private", []ACE{{sidSystem, true, fullControl}, {sidAdministrators, true, fullControl}, {me, true, fullControl}}, false, nil},
		{"ProgramData's inherited users entry", []ACE{{sidSystem, true, fullControl}, {"S-1-5-32-545", true, readOnly}}, false,
			[]string{"Users (S-1-5-32-545) has access"}},
		{"everyone and another user", []ACE{{"S-1-1-0", true, 0x80000000}, {"S-1-5-21-9-9-9-1002", true, 0x2}, {"S-1-1-0", true, 0x1}}, false,
			[]string{"Everyone (S-1-1-0) has access", "S-1-5-21-9-9-9-1002 has access"}},
		{"denied entries and harmless rights are fine", []ACE{{"S-1-1-0", false, fullControl}, {"S-1-5-11", true, readControl}}, false, nil},
		{"creator owner is the account that created the file", []ACE{{sidCreatorOwner, true, fullControl}}, false, nil},
		{"no access list at all", nil, true, []string{"it has no access list, so every account has full access"}},
	} {
		if got := aclProblems(tc.entries, tc.nilDACL, me); !slices.Equal(got, tc.want) {
			t.Errorf("%s: aclProblems = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestSecureTightensAndWriteFileIsPrivate(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "key.pem")
	if err := WriteFile(f, []byte("secret")); err != nil {
		t.Fatal(err)
	}
	if problem, err := Check(f); err != nil || problem != "" {
		t.Fatalf("a file from WriteFile: %q, %v", problem, err)
	}
	if fixed, err := Secure(filepath.Join(dir, "missing")); err != nil || fixed != "" {
		t.Fatalf("Secure of a missing file: %q, %v", fixed, err)
	}
	if runtime.GOOS == "windows" {
		return // the mode bits below mean nothing to Windows' access lists
	}
	if err := os.Chmod(f, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, f} {
		fixed, err := Secure(p)
		if err != nil || fixed == "" {
			t.Fatalf("Secure(%s) = %q, %v: want it fixed", p, fixed, err)
		}
		if again, err := Secure(p); err != nil || again != "" {
			t.Fatalf("second Secure(%s) = %q, %v: want nothing left to fix", p, again, err)
		}
	}
	fi, _ := os.Stat(f)
	di, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Fatalf("modes %04o and %04o, want 0600 and 0700", fi.Mode().Perm(), di.Mode().Perm())
	}
}
