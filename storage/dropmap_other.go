//go:build !linux

package storage

// dropMappedPages is a no-op where /proc/self/maps and madvise are not
// Linux's.
func dropMappedPages(string) {}
