//go:build !race

package hnsw

// raceEnabled: see race_on.go.
const raceEnabled = false
