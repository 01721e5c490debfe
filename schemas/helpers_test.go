package schemas

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testNow is the "now" of validation tests.
var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// unitVector returns a deterministic random unit vector, like a sentence
// embedding.
func unitVector(seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 42))
	v := make([]float32, EmbeddingDim)
	var n float64
	for i := range v {
		f := r.NormFloat64()
		v[i] = float32(f)
		n += f * f
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(n))
	}
	return v
}

// pythonFloats writes v as Python's json.dumps(v.tolist()) does for a numpy
// float32 array: each value widened to float64 and written in its shortest
// float64 form, typically 17 or 18 significant digits. This is the slowest
// realistic input for the float parser.
func pythonFloats(v []float32) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, f := range v {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatFloat(float64(f), 'g', -1, 64))
	}
	b.WriteByte(']')
	return b.String()
}

// sampleMemory returns a valid, normalized memory with every field set.
func sampleMemory() Memory {
	imp := 0.75
	return Memory{
		SystemID:    "buddy-01",
		ID:          "5f0c6f0e-8a4b-4a7e-9c39-1d2b3c4d5e6f",
		Kind:        KindConversation,
		Content:     strings.Repeat("User asked how to configure the Parquet writer; assistant explained row groups. ", 6),
		Embedding:   unitVector(1),
		CreatedAt:   time.Date(2026, 11, 25, 10, 0, 0, 123456000, time.UTC),
		Project:     "akosha",
		Namespace:   "default",
		SessionID:   "sess-2026-11-25-abc",
		UserID:      "les",
		Category:    "engineering",
		Subcategory: "storage",
		Tags:        []string{"parquet", "delta", "go"},
		Importance:  &imp,
		SourceType:  "session-buddy",
		Metadata:    json.RawMessage(`{"source":"buddy-01","tokens":412,"files":["a.go","b.go"]}`),
	}
}

// sampleMemoryJSON returns sampleMemory as a client sends it: with the
// embedding as Python-style floats or as base64, and the timestamp as Python's
// isoformat() of a naive datetime.
func sampleMemoryJSON(t testing.TB, b64 bool) []byte {
	m := sampleMemory()
	emb := m.Embedding
	m.Embedding = nil
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		t.Fatal(err)
	}
	obj["created_at"] = json.RawMessage(`"2026-11-25T10:00:00.123456"`)
	if b64 {
		obj["embedding_b64"], _ = json.Marshal(EncodeEmbeddingB64(emb))
	} else {
		obj["embedding"] = json.RawMessage(pythonFloats(emb))
	}
	b, err = json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
