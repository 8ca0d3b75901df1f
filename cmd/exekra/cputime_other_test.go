//go:build !unix

package main

import "time"

// cpuTime is 0 where getrusage does not exist: benchmarks then report no
// CPU time per request (the portable fallback).
func cpuTime() time.Duration { return 0 }
