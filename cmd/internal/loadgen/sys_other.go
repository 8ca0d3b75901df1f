//go:build !unix

package loadgen

// raiseFileLimit does nothing where there are no rlimits.
func raiseFileLimit() {}
