package vecindex

import (
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/lake/hnsw"
)

// FileData is what search needs of one memories data file: every row's key
// and version, and the rows with an embedding as unit vectors.
type FileData struct {
	ID       []string // per row
	Ingested []int64  // per row: ingested_at, Unix microseconds
	Kind     []string // per row (interned)
	Project  []string // per row (interned; "" when null)
	Created  []int64  // per row: created_at, Unix microseconds

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

// vecRow is the projection of schemas.MemoryRow that search reads: no
// content, no metadata. Warm and cold files (schemas.QuantizedMemoryRow)
// have embedding_i8 and embedding_scale instead of embedding; a file lacks
// the columns of the other form, and those read as empty.
type vecRow struct {
	ID         string    `parquet:"id"`
	Kind       string    `parquet:"kind"`
	Embedding  []float32 `parquet:"embedding,optional,list"`
	EmbI8      []int8    `parquet:"embedding_i8,optional,list"`
	EmbScale   float32   `parquet:"embedding_scale,optional"`
	CreatedAt  time.Time `parquet:"created_at,timestamp(microsecond)"`
	Project    string    `parquet:"project,optional"`
	IngestedAt time.Time `parquet:"ingested_at,timestamp(microsecond)"`
}

// ReadFile decodes the search columns of one memories data file.
func ReadFile(r io.ReaderAt, size int64) (*FileData, error) {
	f, err := parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true), parquet.ReadBufferSize(1<<20))
	if err != nil {
		return nil, err
	}
	rd := parquet.NewGenericReader[vecRow](f)
	defer rd.Close()
	n := int(f.NumRows())
	d := &FileData{
		ID: make([]string, 0, n), Ingested: make([]int64, 0, n), Kind: make([]string, 0, n),
		Project: make([]string, 0, n), Created: make([]int64, 0, n),
	}
	intern := map[string]string{}
	in := func(s string) string {
		if v, ok := intern[s]; ok {
			return v
		}
		intern[s] = s
		return s
	}
	buf := make([]vecRow, 256)
	for {
		k, err := rd.Read(buf)
		for i := range buf[:k] {
			row := &buf[i]
			if len(row.Embedding) == 0 && len(row.EmbI8) > 0 {
				// Dequantized, then normalized by appendVec: a score is
				// the cosine of the stored vector, within about 1e-3 of
				// the original's (schemas/quantized.go).
				row.Embedding = dequantizeInto(row.Embedding[:0], row.EmbI8, row.EmbScale)
			}
			d.VecRow, d.Vecs = appendVec(d.VecRow, d.Vecs, uint32(len(d.ID)), row.Embedding)
			d.ID = append(d.ID, row.ID)
			d.Ingested = append(d.Ingested, row.IngestedAt.UnixMicro())
			d.Kind = append(d.Kind, in(row.Kind))
			d.Project = append(d.Project, in(row.Project))
			d.Created = append(d.Created, row.CreatedAt.UnixMicro())
			*row = vecRow{Embedding: row.Embedding[:0], EmbI8: row.EmbI8[:0]}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read rows: %w", err)
		}
	}
	return d, nil
}

func dequantizeInto(dst []float32, q []int8, scale float32) []float32 {
	for _, x := range q {
		dst = append(dst, float32(x)*scale)
	}
	return dst
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
// not) of one data file.
//
// It reads the two or three column chunks it needs page by page: the offset
// index says which page holds a row, and only that page is read (through a
// 64 KB buffer: over ranged GETs a hit costs a few requests) and decoded.
// A row-oriented reader over the same file cost several times more here,
// converting whole pages into row structs.
func HitsAt(r io.ReaderAt, size int64, rows []uint32) ([]Hit, error) {
	f, err := parquet.OpenFile(r, size, parquet.SkipBloomFilters(true), parquet.ReadBufferSize(64<<10))
	if err != nil {
		return nil, err
	}
	content, ok := f.Schema().Lookup("content")
	if !ok {
		return nil, errors.New("no content column")
	}
	emb, float := f.Schema().Lookup("embedding", "list", "element")
	i8, quantized := f.Schema().Lookup("embedding_i8", "list", "element")
	scale, _ := f.Schema().Lookup("embedding_scale")
	out := make([]Hit, len(rows))
	vals := make([]parquet.Value, 2*Dim)
	for i, pos := range rows {
		rg, at, err := rowGroupOf(f, int64(pos))
		if err != nil {
			return nil, err
		}
		chunks := rg.ColumnChunks()
		vs, err := cell(chunks[content.ColumnIndex], at, vals)
		if err != nil || len(vs) != 1 {
			return nil, fmt.Errorf("row %d: content: %w", pos, orMissing(err))
		}
		out[i].Content = vs[0].String()
		var e []float32
		switch {
		case float:
			vs, err := cell(chunks[emb.ColumnIndex], at, vals)
			if err != nil {
				return nil, fmt.Errorf("row %d: embedding: %w", pos, err)
			}
			for _, v := range vs {
				if v.DefinitionLevel() == emb.MaxDefinitionLevel {
					e = append(e, v.Float())
				}
			}
		case quantized:
			vs, err := cell(chunks[scale.ColumnIndex], at, vals)
			if err != nil || len(vs) != 1 {
				return nil, fmt.Errorf("row %d: embedding_scale: %w", pos, orMissing(err))
			}
			s := vs[0].Float()
			vs, err = cell(chunks[i8.ColumnIndex], at, vals)
			if err != nil {
				return nil, fmt.Errorf("row %d: embedding_i8: %w", pos, err)
			}
			for _, v := range vs {
				if v.DefinitionLevel() == i8.MaxDefinitionLevel {
					e = append(e, float32(int8(v.Int32()))*s)
				}
			}
		}
		if _, vec := appendVec(nil, nil, 0, e); len(vec) == Dim {
			out[i].Vec = vec
		}
	}
	return out, nil
}

// rowGroupOf is the row group holding row pos, and the row's index in it.
func rowGroupOf(f *parquet.File, pos int64) (parquet.RowGroup, int64, error) {
	for _, rg := range f.RowGroups() {
		if pos < rg.NumRows() {
			return rg, pos, nil
		}
		pos -= rg.NumRows()
	}
	return nil, 0, fmt.Errorf("row %d: %w", pos, io.ErrUnexpectedEOF)
}

// cell reads the values of row at of one column chunk into buf: one value
// for a flat column, the list's values for a repeated one (a null list is
// one value below the column's maximum definition level).
func cell(cc parquet.ColumnChunk, at int64, buf []parquet.Value) ([]parquet.Value, error) {
	pages := cc.Pages()
	defer pages.Close()
	if err := pages.SeekToRow(at); err != nil {
		return nil, err
	}
	page, err := pages.ReadPage()
	if err != nil {
		return nil, err
	}
	defer parquet.Release(page)
	if page.NumRows() < 1 {
		return nil, io.ErrUnexpectedEOF
	}
	n, err := page.Slice(0, 1).Values().ReadValues(buf)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if n == len(buf) {
		return nil, fmt.Errorf("more than %d values in one row", len(buf))
	}
	out := buf[:n]
	for i := range out {
		out[i] = out[i].Clone()
	}
	return out, nil
}

func orMissing(err error) error {
	if err == nil {
		return io.ErrUnexpectedEOF
	}
	return err
}
