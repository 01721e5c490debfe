//go:build !amd64

package hnsw

// Without the amd64 kernels the build computes every distance in float32.

const halfBlock = 32

func canHalf(int) bool { return false }

// Never called: canHalf is false.
func dotHalf([]float32, []uint16) float32 { return 0 }
func toHalfSlice([]uint16, []float32)     {}
