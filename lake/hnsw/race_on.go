//go:build race

package hnsw

// raceEnabled is true in binaries built with the race detector, which only
// tests are. It makes a build default to one worker (see Config.Workers),
// and the package's long tests shrink or skip (skipUnderRace): the detector
// slows a build about fifteenfold, and make test runs this package a second
// time without it.
const raceEnabled = true
