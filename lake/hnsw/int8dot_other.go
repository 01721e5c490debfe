//go:build !amd64

package hnsw

// dotInt8 is the dot product of a float32 query with int8 codes.
func dotInt8(q []float32, c []int8) float32 {
	c = c[:len(q)]
	var s float32
	for i, x := range q {
		s += x * float32(c[i])
	}
	return s
}
