package sqlexec

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/schemas"
)

// Warm and cold memories files store int8 embeddings; the view shows them
// as the same FLOAT[384] embedding as hot files, read side by side with
// them, also through the latest-wins path.
func TestInt8FilesReadAsFloatEmbeddings(t *testing.T) {
	f := newFixture(t, Config{})
	hot := schemas.MemoryRow{ID: "q1", Kind: "memory", Content: "hot version", Embedding: embedding(0.1),
		CreatedAt: t0, IngestedAt: t0}
	warmRow := schemas.MemoryRow{ID: "q1", Kind: "memory", Content: "warm version", Embedding: embedding(-0.2),
		CreatedAt: t0, IngestedAt: t0.Add(time.Hour)} // the newer version
	other := schemas.MemoryRow{ID: "q2", Kind: "memory", Content: "warm only", Embedding: embedding(0.3), CreatedAt: t0}
	noVec := schemas.MemoryRow{ID: "q3", Kind: "memory", Content: "no embedding", CreatedAt: t0}

	writeQ := func(rel string, rows ...schemas.MemoryRow) string {
		sys, rel := splitSystem(rel)
		for i := range rows {
			rows[i].SystemID = sys
		}
		p := filepath.Join(f.cache, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		q := make([]schemas.QuantizedMemoryRow, len(rows))
		for i := range rows {
			q[i] = rows[i].Quantized()
		}
		if err := parquet.WriteFile(p, q); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hotPath := f.write(t, "memories/tier=hot/system_id=q/day=2026-11-01/h.parquet", []schemas.MemoryRow{hot})
	warmDup := writeQ("memories/tier=warm/system_id=q/day=2026-11-01/w1.parquet", warmRow)
	warmPlain := writeQ("memories/tier=warm/system_id=q/day=2026-11-01/w2.parquet", other, noVec)
	views := map[string]View{ViewMemories: {Files: []File{
		{Path: hotPath, Seq: 1, Dedup: true},
		{Path: warmDup, Seq: 2, Dedup: true, Encoding: EncodingInt8},
		{Path: warmPlain, Seq: 2, Encoding: EncodingInt8},
	}}}
	res, err := f.engine.Exec(context.Background(), Request{Views: views,
		SQL: "SELECT id, content, tier, typeof(embedding), embedding FROM memories ORDER BY id"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 3 {
		t.Fatalf("rows: %v", jsonOf(t, res.Rows))
	}
	want := []struct {
		id, content string
		vec         []float32
	}{{"q1", "warm version", warmRow.Embedding}, {"q2", "warm only", other.Embedding}, {"q3", "no embedding", nil}}
	for i, w := range want {
		row := res.Rows[i]
		if row[0] != w.id || row[1] != w.content || row[2] != "warm" || row[3] != "FLOAT[384]" {
			t.Errorf("row %d: %v %v %v %v, want %s %q warm FLOAT[384]", i, row[0], row[1], row[2], row[3], w.id, w.content)
			continue
		}
		got, _ := row[4].([]float32) // the engine's form of a list of finite floats
		if w.vec == nil {
			if row[4] != nil {
				t.Errorf("%s: embedding %v, want null", w.id, row[4])
			}
			continue
		}
		if len(got) != schemas.EmbeddingDim {
			t.Errorf("%s: embedding has %d values", w.id, len(got))
			continue
		}
		// Each component within half a quantization step of the original.
		var mx float64
		for _, x := range w.vec {
			mx = max(mx, math.Abs(float64(x)))
		}
		for j, x := range w.vec {
			if d := math.Abs(float64(got[j]) - float64(x)); d > mx/127/2+1e-6 {
				t.Fatalf("%s[%d]: %v, want %v (step %v)", w.id, j, got[j], x, mx/127)
			}
		}
	}
}
