package schemas

import (
	"encoding/json"
	"testing"
)

// The ingest target is 20,000 records/s per core, i.e. at most 50µs per
// record for decoding, normalizing and validating. The benchmarks measure
// exactly that path.

func benchmarkDecode(b *testing.B, data []byte) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var m Memory
		if err := m.UnmarshalJSON(data); err != nil {
			b.Fatal(err)
		}
		m.Normalize()
		if err := m.Validate(testNow); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkDecodeMemoryJSON(b *testing.B) { benchmarkDecode(b, sampleMemoryJSON(b, false)) }

func BenchmarkDecodeMemoryB64(b *testing.B) { benchmarkDecode(b, sampleMemoryJSON(b, true)) }

// BenchmarkDecodeMemoryStdlib is the baseline: encoding/json's reflection
// decoder on the same input, without validation.
func BenchmarkDecodeMemoryStdlib(b *testing.B) {
	type plain struct {
		Memory
		CreatedAt string `json:"created_at"`
	}
	data := sampleMemoryJSON(b, false)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var m struct {
			SystemID  string          `json:"system_id"`
			ID        string          `json:"id"`
			Content   string          `json:"content"`
			Embedding []float32       `json:"embedding"`
			CreatedAt string          `json:"created_at"`
			Tags      []string        `json:"tags"`
			Metadata  json.RawMessage `json:"metadata"`
		}
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateMemory(b *testing.B) {
	m := sampleMemory()
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Validate(testNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeEmbeddingB64(b *testing.B) {
	s := EncodeEmbeddingB64(unitVector(1))
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeEmbeddingB64(s); err != nil {
			b.Fatal(err)
		}
	}
}
