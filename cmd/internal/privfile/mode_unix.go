//go:build !windows

package privfile

import "os"

// Check says why path is not private ("" when it is): its mode lets the
// group or others in.
func Check(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	return modeProblem(fi.Mode()), nil
}

// Restrict takes the group's and others' permissions away from path. The
// accounts are for Windows, where the service's account is named in the
// access list; here the file's owner is that account (see chown).
func Restrict(path string, accounts ...string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return os.Chmod(path, privateMode(fi.Mode()))
}
