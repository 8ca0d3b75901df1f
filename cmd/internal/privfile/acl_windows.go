package privfile

import (
	"fmt"
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
)

// currentSID is the account this process runs as (the service account
// under the service control manager).
func currentSID() (string, error) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return "", fmt.Errorf("privfile: current account: %w", err)
	}
	return u.User.Sid.String(), nil
}

// Check says why path is not private ("" when it is): who besides
// SYSTEM, Administrators and this process's account may read or change it.
func Check(path string) (string, error) {
	if _, err := os.Stat(path); err != nil {
		return "", err
	}
	me, err := currentSID()
	if err != nil {
		return "", err
	}
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return "", fmt.Errorf("privfile: read the access list of %s: %w", path, err)
	}
	dacl, _, err := sd.DACL()
	if err != nil && err != windows.ERROR_OBJECT_NOT_FOUND {
		return "", fmt.Errorf("privfile: read the access list of %s: %w", path, err)
	}
	if dacl == nil {
		return strings.Join(aclProblems(nil, true, me), "; "), nil
	}
	var entries []ACE
	for i := uint32(0); i < uint32(dacl.AceCount); i++ {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return "", fmt.Errorf("privfile: read the access list of %s: %w", path, err)
		}
		// Allowed and denied entries share this layout; other kinds
		// (object and callback entries) are not used on files.
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		entries = append(entries, ACE{
			SID:   sid.String(),
			Allow: ace.Header.AceType == windows.ACCESS_ALLOWED_ACE_TYPE,
			Mask:  uint32(ace.Mask),
		})
	}
	return strings.Join(aclProblems(entries, false, me), "; "), nil
}

// Restrict gives path the private access list: full control for SYSTEM,
// Administrators and accounts (names such as `NT SERVICE\ExekraHubService`;
// this process's account when none is given), nothing inherited from its
// parent. A
// directory's list is inherited by its contents, existing and future.
func Restrict(path string, accounts ...string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	var sids []string
	if len(accounts) == 0 {
		me, err := currentSID()
		if err != nil {
			return err
		}
		sids = append(sids, me)
	}
	for _, a := range accounts {
		sid, _, _, err := windows.LookupSID("", a)
		if err != nil {
			return fmt.Errorf("privfile: account %s: %w", a, err)
		}
		sids = append(sids, sid.String())
	}
	sd, err := windows.SecurityDescriptorFromString(privateSDDL(sids, fi.IsDir()))
	if err != nil {
		return fmt.Errorf("privfile: %w", err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("privfile: %w", err)
	}
	err = windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
	if err != nil {
		return fmt.Errorf("privfile: set the access list of %s: %w", path, err)
	}
	return nil
}
