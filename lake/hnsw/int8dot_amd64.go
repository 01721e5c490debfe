package hnsw

import "golang.org/x/sys/cpu"

// dotInt8AVX2 is the dot product of n float32 values at q with n int8 values
// at c. n must be a positive multiple of 8.
//
//go:noescape
func dotInt8AVX2(q *float32, c *int8, n int) float32

var hasFMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// dotInt8 is the dot product of a float32 query with int8 codes: the
// distance kernel of an int8 index. A 384-d node is then six cache lines
// instead of twenty-four, which is most of what a graph walk waits for.
func dotInt8(q []float32, c []int8) float32 {
	c = c[:len(q)]
	head := 0
	var s float32
	if hasFMA {
		head = len(q) &^ 7
		if head > 0 {
			s = dotInt8AVX2(&q[0], &c[0], head)
		}
	}
	for i := head; i < len(q); i++ {
		s += q[i] * float32(c[i])
	}
	return s
}
