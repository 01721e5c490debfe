package vecindex_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/vecindex"
	"github.com/akosha/akosha/schemas"
)

// smallGroups encodes rows with the lake's options but row groups of 300
// rows: four row groups of a few dozen pages each, from 1,000 rows, cheap
// enough for -race (the lake's own 16,384 would take 20,000 rows).
func smallGroups[Row any](t testing.TB, rows []Row) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[Row](&buf, append(lake.WriterOptions(), parquet.MaxRowsPerRowGroup(300))...)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// hitFiles are a hot file (float embeddings) and a warm one (int8 with a
// scale) of the same 1,000 rows, among them rows without an embedding, of
// the wrong size, with a NaN, a zero vector and (warm) a null scale.
func hitFiles(t testing.TB) map[string][]byte {
	recs := gen.Memories(3, 1000, 2, 1)
	rows := make([]schemas.MemoryRow, len(recs))
	for i := range recs {
		rows[i] = recs[i].Row()
		switch i % 11 {
		case 1:
			rows[i].Embedding = nil
		case 3:
			rows[i].Embedding = rows[i].Embedding[:5]
		case 4:
			rows[i].Embedding[9] = float32(math.NaN())
		case 5:
			rows[i].Embedding = make([]float32, vecindex.Dim)
		}
	}
	quantized := make([]schemas.QuantizedMemoryRow, len(rows))
	for i := range rows {
		quantized[i] = rows[i].Quantized()
		if i%13 == 7 {
			quantized[i].EmbeddingScale = nil
		}
	}
	return map[string][]byte{"hot": smallGroups(t, rows), "warm": smallGroups(t, quantized)}
}

// The rows a search might ask for: unordered, the first and last, both
// sides of row group boundaries (300, 600), neighbours that share a page
// (an embedding page holds about 20 rows, a content page about 50), a row
// asked twice, and rows of each odd kind above.
var hitRows = []uint32{999, 0, 1, 2, 299, 300, 301, 599, 600, 450, 451, 452, 453, 12, 12, 1 + 11*40, 3 + 11*50, 4 + 11*60, 5 + 11*70, 7 + 13*30, 998}

// Hits read page by page, with the footer parsed afresh or kept from an
// earlier call, are the hits the old reader gave (a fresh page reader per
// row and column), for hot and warm files.
func TestHitsMatchCellReads(t *testing.T) {
	for name, data := range hitFiles(t) {
		t.Run(name, func(t *testing.T) {
			size := int64(len(data))
			want, err := vecindex.HitsAtByCells(bytes.NewReader(data), size, hitRows)
			if err != nil {
				t.Fatal(err)
			}
			fresh, err := vecindex.HitsAt(context.Background(), bytes.NewReader(data), size, hitRows)
			if err != nil {
				t.Fatal(err)
			}
			sameHits(t, "fresh", fresh, want)
			f, err := vecindex.OpenFile(bytes.NewReader(data), size)
			if err != nil {
				t.Fatal(err)
			}
			for round := range 2 { // the second with the offset indexes kept
				kept, err := f.HitsAt(context.Background(), bytes.NewReader(data), hitRows)
				if err != nil {
					t.Fatal(err)
				}
				sameHits(t, "kept footer", kept, want)
				if round == 0 {
					var vecs int
					for _, h := range kept {
						if h.Vec != nil {
							vecs++
						}
					}
					if vecs == 0 || vecs == len(kept) {
						t.Fatalf("%d of %d hits have a vector: the file lacks the odd rows", vecs, len(kept))
					}
				}
			}
			// One File read by several searches at once, its offset
			// indexes decoded by whichever comes first (-race).
			if f, err = vecindex.OpenFile(bytes.NewReader(data), size); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			got := make([][]vecindex.Hit, 4)
			errs := make([]error, 4)
			for g := range got {
				wg.Go(func() { got[g], errs[g] = f.HitsAt(context.Background(), bytes.NewReader(data), hitRows) })
			}
			wg.Wait()
			for g := range got {
				if errs[g] != nil {
					t.Fatal(errs[g])
				}
				sameHits(t, "kept footer, concurrently", got[g], want)
			}
		})
	}
}

func sameHits(t *testing.T, what string, got, want []vecindex.Hit) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d hits, want %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i].Content != want[i].Content || (got[i].Vec == nil) != (want[i].Vec == nil) || !slices.Equal(got[i].Vec, want[i].Vec) {
			t.Fatalf("%s: hit %d (row %d) differs: content %q..., %d floats; want %q..., %d floats", what, i, hitRows[i],
				got[i].Content[:min(20, len(got[i].Content))], len(got[i].Vec), want[i].Content[:min(20, len(want[i].Content))], len(want[i].Vec))
		}
	}
}

// countingReader counts the reads through it and their bytes.
type countingReader struct {
	r            *bytes.Reader
	reads, bytes atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.reads.Add(1)
	c.bytes.Add(int64(len(p)))
	return c.r.ReadAt(p, off)
}

// With the footer kept, a page holding several hits is read once, with one
// read of its own size (no read-ahead), whatever the number of its hits.
func TestHitsReadEachPageOnce(t *testing.T) {
	data := hitFiles(t)["hot"]
	size := int64(len(data))
	f, err := vecindex.OpenFile(bytes.NewReader(data), size)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.HitsAt(context.Background(), bytes.NewReader(data), []uint32{0, 300}); err != nil {
		t.Fatal(err) // reads the two row groups' offset indexes
	}
	// The first page of content and of embedding in row groups 0 and 1,
	// from the offset indexes.
	pf, err := parquet.OpenFile(bytes.NewReader(data), size)
	if err != nil {
		t.Fatal(err)
	}
	var pageBytes int64
	for _, g := range []int{0, 1} {
		for _, path := range [][]string{{"content"}, {"embedding", "list", "element"}} {
			c, _ := pf.Schema().Lookup(path...)
			index, err := pf.RowGroups()[g].ColumnChunks()[c.ColumnIndex].(*parquet.FileColumnChunk).OffsetIndex()
			if err != nil || index.NumPages() < 2 || index.FirstRowIndex(1) < 3 {
				t.Fatalf("row group %d, %v: offset index %v, %v: want pages of more than 2 rows", g, path, index, err)
			}
			pageBytes += index.CompressedPageSize(0)
		}
	}
	for _, rows := range [][]uint32{{0, 300}, {0, 1, 2, 300, 301}, {301, 2, 0, 300, 1}} {
		r := &countingReader{r: bytes.NewReader(data)}
		if _, err := f.HitsAt(context.Background(), r, rows); err != nil {
			t.Fatal(err)
		}
		if n, b := r.reads.Load(), r.bytes.Load(); n != 4 || b != pageBytes {
			t.Errorf("rows %v: %d reads of %d bytes in all; want 4 reads of %d bytes, the 4 pages", rows, n, b, pageBytes)
		}
	}
}

// A truncated or damaged file is an error, never a panic; so is a row past
// the file's end, or a kept footer read against other bytes.
func TestHitsCorruptFile(t *testing.T) {
	data := hitFiles(t)["hot"]
	size := int64(len(data))
	ctx := context.Background()
	if _, err := vecindex.HitsAt(ctx, bytes.NewReader(data[:size/2]), size/2, hitRows); err == nil {
		t.Error("a truncated file: no error")
	}
	if _, err := vecindex.HitsAt(ctx, bytes.NewReader(data), size, []uint32{1000}); err == nil {
		t.Error("a row past the end: no error")
	}
	f, err := vecindex.OpenFile(bytes.NewReader(data), size)
	if err != nil {
		t.Fatal(err)
	}
	// The pages' bytes damaged in several ways; the footer intact.
	for _, damage := range []struct {
		name string
		at   func(i int) bool
	}{
		{"zeroed", func(int) bool { return true }},
		{"every 7th byte", func(i int) bool { return i%7 == 0 }},
		{"every 1000th byte", func(i int) bool { return i%1000 == 0 }},
	} {
		bad := slices.Clone(data)
		for i := 4; i < len(bad)*3/4; i++ {
			if damage.at(i) {
				bad[i] ^= 0x5a
			}
		}
		for _, way := range []struct {
			name string
			read func() ([]vecindex.Hit, error)
		}{
			{"kept footer", func() ([]vecindex.Hit, error) { return f.HitsAt(ctx, bytes.NewReader(bad), hitRows) }},
			{"fresh", func() ([]vecindex.Hit, error) { return vecindex.HitsAt(ctx, bytes.NewReader(bad), size, hitRows) }},
		} {
			hits, err := way.read()
			if err == nil {
				// Damage that decodes can only be caught by what it gives.
				want, _ := vecindex.HitsAt(ctx, bytes.NewReader(data), size, hitRows)
				if slices.EqualFunc(hits, want, func(a, b vecindex.Hit) bool { return a.Content == b.Content }) {
					t.Errorf("%s, %s: no error, and the hits of the intact file", damage.name, way.name)
				}
			}
		}
	}
	// A kept footer against a file of other bytes.
	other := hitFiles(t)["warm"]
	if _, err := f.HitsAt(ctx, bytes.NewReader(other[:len(other)/3]), hitRows); err == nil {
		t.Error("a kept footer over another, truncated file: no error")
	}
	// A context already done stops before reading.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.HitsAt(cctx, bytes.NewReader(data), hitRows); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
}

// Files keeps at most its bound, least recently used out first, and Drop
// forgets a key.
func TestFilesBounded(t *testing.T) {
	data := hitFiles(t)["hot"]
	f, err := vecindex.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	c := vecindex.NewFiles(2)
	c.Put("a", f)
	c.Put("b", f)
	c.Get("a") // b is now the least recently used
	c.Put("c", f)
	if c.Len() != 2 || c.Get("a") == nil || c.Get("b") != nil || c.Get("c") == nil {
		t.Fatalf("after a, b, get a, c: %d kept, a %v, b %v, c %v; want a and c", c.Len(), c.Get("a") != nil, c.Get("b") != nil, c.Get("c") != nil)
	}
	c.Drop("a")
	c.Drop("nothing")
	if c.Len() != 1 || c.Get("a") != nil {
		t.Fatalf("after dropping a: %d kept, a %v", c.Len(), c.Get("a") != nil)
	}
	if vecindex.NewFiles(0).Len() != 0 {
		t.Fatal("a new Files holds something")
	}
}
