package hnsw

import "golang.org/x/sys/cpu"

// The build's half-precision kernels (half_amd64.s): dot products of a
// float32 query with a float16 vector, converted by F16C, in AVX-512 or AVX2.
var (
	halfAVX512 = cpu.X86.HasAVX512F
	halfOK     = halfAVX512 || cpuHasAVX2Half()
)

// halfBlock: the kernels take whole blocks of 32 components.
const halfBlock = 32

// canHalf reports whether a build of dimension dim can search in half
// precision on this CPU.
func canHalf(dim int) bool { return halfOK && dim%halfBlock == 0 }

// dotHalf is the dot product of q with the float16 vector h; len(h) ==
// len(q), a positive multiple of halfBlock, and canHalf holds.
func dotHalf(q []float32, h []uint16) float32 {
	if halfAVX512 {
		return dotHalfAVX512(&q[0], &h[0], len(h))
	}
	return dotHalfAVX2(&q[0], &h[0], len(h))
}

// toHalfSlice rounds src to float16 into dst (same length, a positive
// multiple of halfBlock), to nearest even.
func toHalfSlice(dst []uint16, src []float32) { toHalf(&dst[0], &src[0], len(dst)) }

//go:noescape
func dotHalfAVX2(q *float32, h *uint16, n int) float32

//go:noescape
func dotHalfAVX512(q *float32, h *uint16, n int) float32

//go:noescape
func toHalf(dst *uint16, src *float32, n int)

func cpuHasAVX2Half() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C }
