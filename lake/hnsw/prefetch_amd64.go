package hnsw

import "unsafe"

// prefetch asks the CPU to start loading lines cache lines from p. A graph
// search reads vectors at random addresses, so without it every distance
// waits for memory; hinting the next neighbour's vector while computing the
// current one overlaps the two. A prefetch never faults, so p may point
// anywhere.
//
//go:noescape
func prefetch(p unsafe.Pointer, lines int)
