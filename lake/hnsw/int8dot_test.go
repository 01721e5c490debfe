package hnsw

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The SIMD kernel agrees with a float64 reference for every length,
// including tails past multiples of 8 and 32, at the extremes of int8.
func TestDotInt8(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 400; n++ {
		q := make([]float32, n)
		c := make([]int8, n+1)
		c[n] = 99 // past the end: must not be read into the sum
		var want, mag float64
		for i := range q {
			q[i] = float32(rng.NormFloat64())
			c[i] = int8(rng.IntN(256) - 128)
			if i%17 == 0 {
				c[i] = -128
			}
			want += float64(q[i]) * float64(c[i])
			mag += math.Abs(float64(q[i]) * float64(c[i]))
		}
		got := dotInt8(q, c[:n])
		// float32 sums: rounding grows with the terms' magnitudes.
		if math.Abs(float64(got)-want) > 1e-6*(1+mag) {
			t.Fatalf("n=%d: dotInt8 = %v, want %v", n, got, want)
		}
	}
}

func BenchmarkDotInt8(b *testing.B) {
	q := gaussian(1, dim, 1)
	c := make([]int8, dim)
	for i := range c {
		c[i] = int8(i*7 - 100)
	}
	v := gaussian(1, dim, 2)
	b.Run("int8", func(b *testing.B) {
		for b.Loop() {
			dotInt8(q, c)
		}
	})
	b.Run("float32", func(b *testing.B) {
		for b.Loop() {
			dot(q, v)
		}
	})
}
