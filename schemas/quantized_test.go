package schemas

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}

// The promise search makes on warm and cold data: the cosine computed from a
// dequantized vector is within 0.01 of the true cosine. Measured here on
// random unit vectors, including pairs that are close (the ones whose order
// matters in a top-k).
func TestQuantizeKeepsCosine(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	unit := func() []float32 {
		v := make([]float32, EmbeddingDim)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		n := float32(math.Sqrt(float64(dot32(v, v))))
		for i := range v {
			v[i] /= n
		}
		return v
	}
	worst := 0.0
	for i := 0; i < 2000; i++ {
		a, b := unit(), unit()
		if i%2 == 0 { // a near neighbour of a
			for j := range b {
				b[j] = a[j] + 0.1*b[j]
			}
		}
		q, s := QuantizeEmbedding(b)
		d := DequantizeEmbedding(q, s)
		worst = max(worst, math.Abs(cosine(a, b)-cosine(a, d)))
	}
	if worst > 0.01 {
		t.Fatalf("worst cosine error after int8 quantization = %.5f, want <= 0.01", worst)
	}
	t.Logf("worst cosine error over 2000 pairs: %.5f", worst)
}

func dot32(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func TestQuantizeEdges(t *testing.T) {
	if q, s := QuantizeEmbedding(nil); q != nil || s != 0 {
		t.Errorf("absent embedding: got %v, %v; want nil, 0", q, s)
	}
	if d := DequantizeEmbedding(nil, 3); d != nil {
		t.Errorf("dequantize absent: %v", d)
	}
	q, s := QuantizeEmbedding(make([]float32, 4))
	if s != 1 || !slices.Equal(q, []int8{0, 0, 0, 0}) {
		t.Errorf("zero vector: %v scale %v", q, s)
	}
	q, s = QuantizeEmbedding([]float32{1, -0.5, 0.25, -1})
	if !slices.Equal(q, []int8{127, -64, 32, -127}) || s != float32(1)/127 {
		t.Errorf("quantize: %v scale %v", q, s)
	}
}

// Rewriting a warm file must not degrade it further.
func TestQuantizeIsIdempotent(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 500; i++ {
		v := make([]float32, EmbeddingDim)
		for j := range v {
			v[j] = float32(r.NormFloat64() * 0.05)
		}
		q1, s1 := QuantizeEmbedding(v)
		q2, s2 := QuantizeEmbedding(DequantizeEmbedding(q1, s1))
		if !slices.Equal(q1, q2) || s1 != s2 {
			t.Fatalf("vector %d: requantized differs (scale %v vs %v)", i, s1, s2)
		}
	}
}

func TestQuantizedRowRoundTrip(t *testing.T) {
	imp := 0.5
	m := MemoryRow{ID: "a", Kind: "memory", Content: "c", Embedding: []float32{0.5, -1, 0},
		Project: optString("p"), Tags: []string{"x"}, Importance: &imp, Metadata: optString(`{"k":1}`)}
	q := m.Quantized()
	back := q.MemoryRow()
	if back.ID != "a" || deref(back.Project) != "p" || *back.Importance != 0.5 || deref(back.Metadata) != `{"k":1}` ||
		!slices.Equal(back.Tags, []string{"x"}) || len(back.Embedding) != 3 {
		t.Fatalf("round trip lost fields: %+v", back)
	}
	for i, x := range m.Embedding {
		if math.Abs(float64(x-back.Embedding[i])) > 1.0/127 {
			t.Errorf("component %d: %v -> %v", i, x, back.Embedding[i])
		}
	}
	none := MemoryRow{ID: "b"}
	if q := none.Quantized(); q.EmbeddingI8 != nil || q.MemoryRow().Embedding != nil {
		t.Errorf("absent embedding did not stay absent")
	}
}
