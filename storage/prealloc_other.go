//go:build !unix

package storage

import "os"

// allocatedBytes is the file's size where the allocation cannot be read.
//
// This is the portable fallback, and on Windows it is also the right
// answer: NTFS files are not sparse unless marked so, and bbolt's growth
// (SetEndOfFile) allocates the clusters it adds, so a longer file already
// has its space. Preallocation then only writes zeros when the file is
// shorter than the wanted headroom, which bbolt's own growth mostly
// makes unnecessary.
func allocatedBytes(fi os.FileInfo) int64 { return fi.Size() }
