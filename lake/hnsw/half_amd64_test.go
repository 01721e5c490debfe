package hnsw

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// halfToFloat is a plain Go reading of an IEEE float16, for checking the
// F16C kernels.
func halfToFloat(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e := int(h>>10) & 0x1f
	f := float64(h & 0x3ff)
	switch e {
	case 0:
		return sign * f * math.Pow(2, -24)
	case 31:
		if f == 0 {
			return sign * math.Inf(1)
		}
		return math.NaN()
	}
	return sign * (1 + f/1024) * math.Pow(2, float64(e-15))
}

func TestHalfKernels(t *testing.T) {
	if !halfOK {
		t.Skip("no F16C/AVX2 or AVX-512 on this CPU")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, d := range []int{32, 64, 384, 1024} {
		v := gaussian(50, d, uint64(d))
		v[3] = 0 // an exact zero
		v[d+1] = 1e-9
		h := make([]uint16, len(v))
		toHalfSlice(h, v)
		for i, x := range v {
			got := halfToFloat(h[i])
			// float16 keeps 11 significant bits; below 2^-14 the step is 2^-24.
			if tol := math.Max(math.Abs(float64(x))*(1.0/2048), math.Pow(2, -25)); math.Abs(got-float64(x)) > tol {
				t.Fatalf("dim %d: component %d: %v rounded to %v", d, i, x, got)
			}
		}
		kernels := map[string]func(*float32, *uint16, int) float32{"dotHalf": func(q *float32, hv *uint16, n int) float32 {
			return dotHalf(unsafe.Slice(q, n), unsafe.Slice(hv, n))
		}}
		if cpuHasAVX2Half() {
			kernels["AVX2"] = dotHalfAVX2
		}
		if halfAVX512 {
			kernels["AVX-512"] = dotHalfAVX512
		}
		for name, k := range kernels {
			for range 20 {
				a, b := rng.IntN(50), rng.IntN(50)
				q := v[a*d : (a+1)*d]
				hv := h[b*d : (b+1)*d]
				var want float64
				for i := range d {
					want += float64(q[i]) * halfToFloat(hv[i])
				}
				got := k(&q[0], &hv[0], d)
				if math.Abs(float64(got)-want) > 1e-5 {
					t.Fatalf("%s dim %d: %v, want %v", name, d, got, want)
				}
				if exact := float64(dot(q, v[b*d:(b+1)*d])); math.Abs(float64(got)-exact) > 2e-3 {
					t.Fatalf("%s dim %d: %v, float32 dot %v", name, d, got, exact)
				}
			}
		}
	}
}

// TestHalfBuild: a build that searched through the float16 copy drops it,
// and its vectors find themselves. Not all of them: on random 64-d vectors
// a parallel build (float16 or not) can leave a node or two without
// in-links, so the test asks for 190 of 200.
func TestHalfBuild(t *testing.T) {
	skipUnderRace(t)
	if !canHalf(64) {
		t.Skip("no float16 kernels on this CPU")
	}
	v := gaussian(2000, 64, 5)
	ix := mustBuild(t, v, 64, Config{Seed: 1})
	if ix.half != nil {
		t.Fatal("the float16 copy outlived the build")
	}
	found := 0
	for i := range 200 {
		r, err := ix.Search(v[i*64:(i+1)*64], 1, 0, nil)
		if err != nil || len(r) != 1 {
			t.Fatalf("query %d: %v %v", i, r, err)
		}
		if r[0].ID == int32(i) {
			found++
		}
	}
	if found < 190 {
		t.Errorf("%d of 200 vectors found themselves", found)
	}
}
