//go:build race

package main

// raceEnabled: the server under test runs several times slower with the
// race detector, so timings it serves are logged, not held to a bound.
const raceEnabled = true
