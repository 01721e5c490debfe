package vecindex

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"

	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/hnsw"
)

// FileData is what search needs of one memories data file: every row's key
// and version, and the rows with an embedding as unit vectors.
type FileData struct {
	System   []string // per row (interned)
	ID       []string // per row
	Ingested []int64  // per row: ingested_at, Unix microseconds
	Kind     []string // per row (interned)
	Project  []string // per row (interned; "" when null)
	Created  []int64  // per row: created_at, Unix microseconds
	// Systems are the file's distinct systems, sorted: a search confined to
	// some systems tests each row only in files holding others.
	Systems []string

	VecRow []uint32  // per vector: its row
	Vecs   []float32 // per vector, Dim floats, unit length (zero vectors stay zero)
}

// Rows is the file's row count.
func (d *FileData) Rows() int { return len(d.ID) }

// Vectors is the number of rows with an embedding.
func (d *FileData) Vectors() int { return len(d.VecRow) }

// Bytes estimates the memory d holds.
func (d *FileData) Bytes() int64 {
	n := int64(len(d.Vecs))*4 + int64(len(d.VecRow))*4 + int64(len(d.ID))*(16+8+16+16+8)
	for _, s := range d.ID {
		n += int64(len(s))
	}
	return n
}

// ReadFile decodes the search columns of one memories data file: system_id, id, kind,
// project, created_at, ingested_at, and the embedding, either the float32
// list of hot files or, in warm and cold files (schemas.QuantizedMemoryRow),
// the int8 list embedding_i8 with its embedding_scale, dequantized (a score
// is then the cosine of the stored vector, within about 1e-3 of the
// original's; schemas/quantized.go).
//
// It reads column by column, page by page: the embedding's values come out
// of each page as one []float32 (or []int32) cut into rows by the page's
// repetition levels. Reading rows into a struct instead cost 14 us a row
// here, mostly reflection over each of the 384 values.
func ReadFile(r io.ReaderAt, size int64) (*FileData, error) {
	f, err := parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true), parquet.ReadBufferSize(1<<20))
	if err != nil {
		return nil, err
	}
	schema := f.Schema()
	cols := map[string]parquet.LeafColumn{}
	for _, name := range []string{"system_id", "id", "kind", "project", "created_at", "ingested_at"} {
		c, ok := schema.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("no %s column", name)
		}
		cols[name] = c
	}
	emb, float := schema.Lookup("embedding", "list", "element")
	i8, quantized := schema.Lookup("embedding_i8", "list", "element")
	scale, hasScale := schema.Lookup("embedding_scale")
	n := int(f.NumRows())
	d := &FileData{
		System: make([]string, 0, n), ID: make([]string, 0, n), Ingested: make([]int64, 0, n), Kind: make([]string, 0, n),
		Project: make([]string, 0, n), Created: make([]int64, 0, n),
	}
	intern, systems := map[string]string{}, map[string]bool{}
	in := func(s string) string {
		if v, ok := intern[s]; ok {
			return v
		}
		intern[s] = s
		return s
	}
	d.Vecs = make([]float32, 0, n*Dim) // most rows have one; trimmed below if not
	var vec []float32
	for _, rg := range f.RowGroups() {
		chunks := rg.ColumnChunks()
		rows := int(rg.NumRows())
		base := len(d.ID)
		err := lake.EachValue(chunks[cols["system_id"].ColumnIndex], func(v parquet.Value) {
			s := in(v.String())
			if n := len(d.System); n == 0 || d.System[n-1] != s { // rows usually come grouped by system
				systems[s] = true
			}
			d.System = append(d.System, s)
		})
		if err == nil {
			err = lake.EachValue(chunks[cols["id"].ColumnIndex], func(v parquet.Value) { d.ID = append(d.ID, v.String()) })
		}
		if err == nil {
			err = lake.EachValue(chunks[cols["kind"].ColumnIndex], func(v parquet.Value) { d.Kind = append(d.Kind, in(v.String())) })
		}
		if err == nil {
			err = lake.EachValue(chunks[cols["project"].ColumnIndex], func(v parquet.Value) {
				p := ""
				if !v.IsNull() {
					p = in(v.String())
				}
				d.Project = append(d.Project, p)
			})
		}
		if err == nil {
			err = lake.EachValue(chunks[cols["created_at"].ColumnIndex], func(v parquet.Value) { d.Created = append(d.Created, v.Int64()) })
		}
		if err == nil {
			err = lake.EachValue(chunks[cols["ingested_at"].ColumnIndex], func(v parquet.Value) { d.Ingested = append(d.Ingested, v.Int64()) })
		}
		if err != nil {
			return nil, fmt.Errorf("read rows: %w", err)
		}
		if len(d.System) != base+rows || len(d.ID) != base+rows || len(d.Kind) != base+rows || len(d.Project) != base+rows ||
			len(d.Created) != base+rows || len(d.Ingested) != base+rows {
			return nil, fmt.Errorf("read rows: columns of a row group of %d rows hold different counts", rows)
		}
		switch {
		case float:
			off, vals, err := readList(chunks[emb.ColumnIndex], emb.MaxDefinitionLevel, rows, encodingFloat)
			if err != nil {
				return nil, fmt.Errorf("read embedding: %w", err)
			}
			for r := range rows {
				d.VecRow, d.Vecs = appendVec(d.VecRow, d.Vecs, uint32(base+r), vals[off[r]:off[r+1]])
			}
		case quantized:
			off, vals, err := readList(chunks[i8.ColumnIndex], i8.MaxDefinitionLevel, rows, encodingInt32)
			if err != nil {
				return nil, fmt.Errorf("read embedding_i8: %w", err)
			}
			scales := make([]float32, 0, rows) // 0 where null
			if hasScale {
				err = lake.EachValue(chunks[scale.ColumnIndex], func(v parquet.Value) {
					s := float32(0)
					if !v.IsNull() {
						s = v.Float()
					}
					scales = append(scales, s)
				})
				if err == nil && len(scales) != rows {
					err = fmt.Errorf("%d scales for %d rows", len(scales), rows)
				}
				if err != nil {
					return nil, fmt.Errorf("read embedding_scale: %w", err)
				}
			} else {
				scales = scales[:rows]
			}
			for r := range rows {
				vec = vec[:0]
				for _, x := range vals[off[r]:off[r+1]] {
					vec = append(vec, float32(int8(x))*scales[r])
				}
				d.VecRow, d.Vecs = appendVec(d.VecRow, d.Vecs, uint32(base+r), vec)
			}
		}
	}
	if cap(d.Vecs) > 2*len(d.Vecs) {
		d.Vecs = slices.Clone(d.Vecs)
	}
	d.Systems = slices.Sorted(maps.Keys(systems))
	return d, nil
}

// Reading a page's values as one typed slice, for readList.
var (
	encodingFloat = func(p parquet.Page) ([]float32, bool) {
		if p.Dictionary() != nil {
			return nil, false
		}
		v := p.Data()
		return v.Float(), true
	}
	encodingInt32 = func(p parquet.Page) ([]int32, bool) {
		if p.Dictionary() != nil {
			return nil, false
		}
		v := p.Data()
		return v.Int32(), true
	}
)

// readList reads a list column chunk of rows rows: row r's elements are
// vals[off[r]:off[r+1]] (none for a null or empty list). Only elements at the
// column's maximum definition level are values; the page's values come as
// one slice (typed), the page's repetition levels say where rows start. A
// page whose values are dictionary indexes is refused (the lake's writer
// never makes one for these columns).
func readList[T any](cc parquet.ColumnChunk, maxDef int, rows int, typed func(parquet.Page) ([]T, bool)) ([]int, []T, error) {
	pages := cc.Pages()
	defer pages.Close()
	off := make([]int, 0, rows+1)
	vals := make([]T, 0, rows*Dim)
	for {
		page, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		data, ok := typed(page)
		reps, defs := page.RepetitionLevels(), page.DefinitionLevels()
		if !ok || len(reps) != len(defs) {
			parquet.Release(page)
			return nil, nil, errors.New("a list page this reader cannot decode (dictionary-encoded, or without levels)")
		}
		if len(data) == len(defs) {
			// Every level is a value (no null or empty list): the
			// common page, one copy.
			base := len(vals)
			vals = append(vals, data...)
			for i, rep := range reps {
				if rep == 0 {
					off = append(off, base+i)
				}
			}
			parquet.Release(page)
			continue
		}
		j := 0
		for i, def := range defs {
			if reps[i] == 0 {
				off = append(off, len(vals))
			}
			if int(def) == maxDef {
				if j >= len(data) {
					parquet.Release(page)
					return nil, nil, errors.New("a list page with fewer values than its levels say")
				}
				vals = append(vals, data[j])
				j++
			}
		}
		parquet.Release(page)
	}
	if len(off) != rows {
		return nil, nil, fmt.Errorf("%d lists for %d rows", len(off), rows)
	}
	return append(off, len(vals)), vals, nil
}

func appendVec(rows []uint32, vecs []float32, row uint32, e []float32) ([]uint32, []float32) {
	if len(e) != Dim {
		return rows, vecs
	}
	for _, x := range e {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return rows, vecs
		}
	}
	o := len(vecs)
	vecs = append(vecs, e...)
	hnsw.Normalize(vecs[o:])
	return append(rows, row), vecs
}

// Hit is what a search shows of one of its final rows: the content, and the
// stored embedding as a unit vector (nil when the row has none), from which
// the final score is computed exactly whatever form the index held.
type Hit struct {
	Content string
	Vec     []float32
}

// HitsAt reads the content and embedding of the given rows (ascending or
// not) of one data file of size bytes: OpenFile, then File.HitsAt. A
// caller reading the same file again keeps the File instead (Files).
//
// Only the pages holding the rows are read, each with one ReadAt (over
// ranged GETs, one request a page) and decoded once. A row-oriented reader
// over the same file cost several times more here, converting whole pages
// into row structs.
func HitsAt(ctx context.Context, r io.ReaderAt, size int64, rows []uint32) ([]Hit, error) {
	f, err := OpenFile(r, size)
	if err != nil {
		return nil, err
	}
	return f.HitsAt(ctx, r, rows)
}
