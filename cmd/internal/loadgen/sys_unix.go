//go:build unix

package loadgen

import "syscall"

// raiseFileLimit lifts the soft open-files limit to the hard one, so that
// thousands of runner connections fit; the managed server inherits it.
func raiseFileLimit() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}
