package cputime

import "testing"

// Work on this goroutine shows up in Self, which never goes backwards.
func TestSelfCountsWork(t *testing.T) {
	before := Self()
	x := 0
	for i := range 50_000_000 {
		x ^= i * i
	}
	after := Self()
	if after <= before {
		t.Fatalf("Self went from %v to %v over a busy loop (%d)", before, after, x)
	}
}
