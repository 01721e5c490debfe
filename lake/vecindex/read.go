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
// Reads go through a 64 KB buffer: about a page of each column (the lake
// writes 32 KB pages), so over ranged GETs a hit costs a few requests.
func HitsAt(r io.ReaderAt, size int64, rows []uint32) ([]Hit, error) {
	f, err := parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true), parquet.ReadBufferSize(64<<10))
	if err != nil {
		return nil, err
	}
	type hitRow struct {
		Content   string    `parquet:"content"`
		Embedding []float32 `parquet:"embedding,optional,list"`
		EmbI8     []int8    `parquet:"embedding_i8,optional,list"`
		EmbScale  float32   `parquet:"embedding_scale,optional"`
	}
	rd := parquet.NewGenericReader[hitRow](f)
	defer rd.Close()
	out := make([]Hit, len(rows))
	buf := make([]hitRow, 1)
	for i, pos := range rows {
		if err := rd.SeekToRow(int64(pos)); err != nil {
			return nil, fmt.Errorf("seek to row %d: %w", pos, err)
		}
		buf[0] = hitRow{}
		n, err := rd.Read(buf)
		if n != 1 {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("read row %d: %w", pos, err)
		}
		row := &buf[0]
		e := row.Embedding
		if len(e) == 0 && len(row.EmbI8) > 0 {
			e = dequantizeInto(nil, row.EmbI8, row.EmbScale)
		}
		out[i].Content = row.Content
		if _, vec := appendVec(nil, nil, 0, e); len(vec) == Dim {
			out[i].Vec = vec
		}
	}
	return out, nil
}
