//go:build race

package hnsw

// raceEnabled shrinks the long tests and skips the ones that run on one
// goroutine (skipUnderRace): the race detector slows a build about
// fifteenfold, and make test runs this package a second time without it.
const raceEnabled = true
