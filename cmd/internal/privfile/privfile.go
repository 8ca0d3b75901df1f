// Package privfile keeps files private to the account that runs Exekra: the
// Hub's data dir, its database, TLS key and the license signing key. On
// Unix that is mode 0700/0600 (group and others get nothing); on Windows
// it is a protected access list granting full control to SYSTEM,
// Administrators and the service's own account only, the equivalent of
// 0600/0700. The decisions are pure functions tested on every platform
// (modeProblem, privateSDDL, aclProblems); acl_windows.go and mode_unix.go
// only read and write what the operating system holds.
package privfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
)

// Secure makes path private when it is not, and says what it changed
// ("" when it already was private). A missing path is no error: there is
// nothing to protect yet.
func Secure(path string) (fixed string, err error) {
	problem, err := Check(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil || problem == "" {
		return "", err
	}
	if err := Restrict(path); err != nil {
		return "", fmt.Errorf("%s: %s, and it could not be restricted: %w", path, problem, err)
	}
	return problem, nil
}

// WriteFile writes a private file: created 0600 and, on Windows, given the
// private access list before the data goes in.
func WriteFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if err := Restrict(path); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// modeProblem says what is wrong with a Unix mode for a private file or
// directory: any permission for the group or others.
func modeProblem(mode fs.FileMode) string {
	if mode.Perm()&0o077 == 0 {
		return ""
	}
	return fmt.Sprintf("mode %04o lets other accounts in (want %04o)", mode.Perm(), privateMode(mode))
}

// privateMode is mode without the group's and others' permissions.
func privateMode(mode fs.FileMode) fs.FileMode { return mode.Perm() &^ 0o077 }

// Well-known Windows security identifiers.
const (
	sidSystem         = "S-1-5-18"
	sidAdministrators = "S-1-5-32-544"
	sidCreatorOwner   = "S-1-3-0"
)

// sddlAlias is how SDDL spells the well-known SIDs.
var sddlAlias = map[string]string{sidSystem: "SY", sidAdministrators: "BA"}

// sidNames names the SIDs a problem report may mention.
var sidNames = map[string]string{
	"S-1-1-0":       "Everyone",
	"S-1-5-11":      "Authenticated Users",
	"S-1-5-32-545":  "Users",
	"S-1-5-32-546":  "Guests",
	"S-1-5-4":       "Interactive",
	"S-1-5-7":       "Anonymous",
	sidCreatorOwner: "Creator Owner",
}

// privateSDDL is the access list of a private file or directory, in SDDL:
// protected from inheriting its parent's entries (P), full control (FA)
// for SYSTEM, Administrators and each of accounts (SIDs: the service's
// own account), inherited by what a directory will contain (OICI).
func privateSDDL(accounts []string, dir bool) string {
	inherit := ""
	if dir {
		inherit = "OICI"
	}
	seen := map[string]bool{}
	var b strings.Builder
	b.WriteString("D:PAI")
	for _, sid := range append([]string{sidSystem, sidAdministrators}, accounts...) {
		if sid == "" || seen[sid] {
			continue
		}
		seen[sid] = true
		name := sid
		if alias, ok := sddlAlias[sid]; ok {
			name = alias
		}
		fmt.Fprintf(&b, "(A;%s;FA;;;%s)", inherit, name)
	}
	return b.String()
}

// ACE is one entry of a Windows access list, as aclProblems needs it.
type ACE struct {
	SID   string
	Allow bool
	Mask  uint32
}

// sensitiveMask are the rights that matter for a private file: reading or
// writing its data, deleting it, changing its access list or owner, and
// the generic rights that imply them. Reading attributes or the access list
// itself, and synchronising, are harmless.
const sensitiveMask = 0x1 | 0x2 | 0x4 | 0x20 | 0x40 | // read, write, append data; execute; delete child
	0x10000 | 0x40000 | 0x80000 | // DELETE, WRITE_DAC, WRITE_OWNER
	0xF0000000 // GENERIC_READ, _WRITE, _EXECUTE, _ALL

// aclProblems lists who, besides SYSTEM, Administrators and allowed (the
// account running Exekra), may read or change the object: one line each,
// sorted. Entries a directory passes on to its contents count as much as
// its own. A nil access list (nilDACL) lets everyone in.
func aclProblems(entries []ACE, nilDACL bool, allowed ...string) []string {
	if nilDACL {
		return []string{"it has no access list, so every account has full access"}
	}
	ok := map[string]bool{sidSystem: true, sidAdministrators: true, sidCreatorOwner: true}
	for _, sid := range allowed {
		ok[sid] = true
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range entries {
		if !e.Allow || ok[e.SID] || e.Mask&sensitiveMask == 0 || seen[e.SID] {
			continue
		}
		seen[e.SID] = true
		who := e.SID
		if name, found := sidNames[e.SID]; found {
			who = name + " (" + e.SID + ")"
		}
		out = append(out, who+" has access")
	}
	sort.Strings(out)
	return out
}
