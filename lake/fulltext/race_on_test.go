//go:build race

package fulltext

// raceEnabled shrinks the randomized tests: the race detector slows this
// single-goroutine code about tenfold, and make test runs the package a
// second time without it.
const raceEnabled = true
