package hnsw

import "golang.org/x/sys/cpu"

// int8ToFloat32AVX2 converts n int8 values at src to float32 at dst, eight at
// a time (sign-extend, convert). n must be a positive multiple of 8.
//
//go:noescape
func int8ToFloat32AVX2(dst *float32, src *int8, n int)

var hasAVX2 = cpu.X86.HasAVX2

// int8ToFloat32 sets dst[i] = float32(src[i]). Loading an int8 index spends
// its time here: a million 384-d vectors are 384M conversions, about a
// second in plain Go and a tenth of that with AVX2.
func int8ToFloat32(dst []float32, src []int8) {
	dst = dst[:len(src)]
	head := 0
	if hasAVX2 {
		head = len(src) &^ 7
		if head > 0 {
			int8ToFloat32AVX2(&dst[0], &src[0], head)
		}
	}
	for i := head; i < len(src); i++ {
		dst[i] = float32(src[i])
	}
}
