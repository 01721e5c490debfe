//go:build race

package hnsw

// raceEnabled shrinks the long tests: the race detector slows the build
// about tenfold.
const raceEnabled = true
