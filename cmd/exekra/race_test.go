//go:build race

package main

// raceEnabled: the race detector slows the server several times over, so
// load tests shrink their load under it.
const raceEnabled = true
