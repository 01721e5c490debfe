//go:build !amd64

package hnsw

// int8ToFloat32 sets dst[i] = float32(src[i]).
func int8ToFloat32(dst []float32, src []int8) {
	dst = dst[:len(src)]
	for i, c := range src {
		dst[i] = float32(c)
	}
}
