//go:build unix

package storage

import (
	"os"
	"syscall"
)

// allocatedBytes is how much of the file is really allocated on disk:
// st_blocks counts 512-byte units whatever the file system's block size,
// and a hole left by a truncate counts nothing.
func allocatedBytes(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512
	}
	return fi.Size()
}
