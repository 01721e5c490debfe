package vecindex_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/hnsw"
	"github.com/akosha/akosha/lake/vecindex"
	"github.com/akosha/akosha/schemas"
)

// ReadFile gives, row for row, what a plain row-by-row read of the same
// columns gives (the reference below): for hot and quantized files, rows
// without an embedding, vectors of the wrong size or with a NaN (no
// vector), a zero vector, and files of more than one row group.
func TestReadFileMatchesARowRead(t *testing.T) {
	// Row groups of 1,000 rather than lake.RowGroupSize: three groups from
	// 2,500 rows cover what two groups of 16,384 did, at an eighth of the
	// cost (this test was 21 s of lake/vecindex's 25 under -race).
	recs := gen.Memories(7, 2500, 1, 1)
	rows := make([]schemas.MemoryRow, len(recs))
	ingested := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	for i := range recs {
		rows[i] = recs[i].Row()
		rows[i].IngestedAt = ingested.Add(time.Duration(i) * time.Microsecond) // as staging sets it
		switch i % 11 {
		case 1:
			rows[i].Embedding = nil // no embedding
		case 2:
			rows[i].Embedding = []float32{} // an empty list
		case 3:
			rows[i].Embedding = rows[i].Embedding[:3] // the wrong size
		case 4:
			rows[i].Embedding[17] = float32(math.NaN())
		case 5:
			rows[i].Embedding = make([]float32, vecindex.Dim) // zero: kept, stays zero
		case 6:
			rows[i].Project = nil // null project
		}
	}
	quantized := make([]schemas.QuantizedMemoryRow, len(rows))
	for i := range rows {
		quantized[i] = rows[i].Quantized()
		if i%13 == 7 {
			quantized[i].EmbeddingScale = nil
		}
	}
	for _, tt := range []struct {
		name string
		file []byte
	}{
		{"hot", encodeGroups(t, rows, 1000)},
		{"hot, one row", encode(t, rows[:1])},
		{"quantized", encodeGroups(t, quantized, 1000)},
		{"quantized, a few rows", encode(t, quantized[:30])},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := vecindex.ReadFile(bytes.NewReader(tt.file), int64(len(tt.file)))
			if err != nil {
				t.Fatal(err)
			}
			want, err := readFileByRows(bytes.NewReader(tt.file), int64(len(tt.file)))
			if err != nil {
				t.Fatal(err)
			}
			if got.Rows() != want.Rows() || got.Vectors() != want.Vectors() || want.Vectors() == 0 {
				t.Fatalf("%d rows, %d vectors; want %d, %d", got.Rows(), got.Vectors(), want.Rows(), want.Vectors())
			}
			if !slices.Equal(got.ID, want.ID) || !slices.Equal(got.Kind, want.Kind) || !slices.Equal(got.Project, want.Project) ||
				!slices.Equal(got.Created, want.Created) || !slices.Equal(got.Ingested, want.Ingested) ||
				!slices.Equal(got.VecRow, want.VecRow) || !slices.Equal(got.Vecs, want.Vecs) {
				for name, same := range map[string]bool{"id": slices.Equal(got.ID, want.ID), "kind": slices.Equal(got.Kind, want.Kind),
					"project": slices.Equal(got.Project, want.Project), "created": slices.Equal(got.Created, want.Created),
					"ingested": slices.Equal(got.Ingested, want.Ingested), "vecrow": slices.Equal(got.VecRow, want.VecRow),
					"vecs": slices.Equal(got.Vecs, want.Vecs)} {
					if !same {
						t.Errorf("%s differs", name)
					}
				}
				t.Fatal("ReadFile and the row read differ")
			}
		})
	}
}

// encodeGroups is encode with row groups of groupRows, the lake's other
// options unchanged.
func encodeGroups[Row any](t testing.TB, rows []Row, groupRows int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[Row](&buf, append(lake.WriterOptions(), parquet.MaxRowsPerRowGroup(groupRows))...)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if want := (int64(len(rows)) + groupRows - 1) / groupRows; int64(len(f.RowGroups())) != want {
		t.Fatalf("%d row groups, want %d", len(f.RowGroups()), want)
	}
	return buf.Bytes()
}

func encode[Row any](t testing.TB, rows []Row) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := lake.EncodeParquet(&buf, rows); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readFileByRows is the reference: parquet-go's generic row reader into a
// struct naming both encodings' columns (a file lacks the other's, which
// read as empty), each row's vector dequantized and normalized as ReadFile
// documents.
func readFileByRows(r io.ReaderAt, size int64) (*vecindex.FileData, error) {
	type row struct {
		ID         string    `parquet:"id"`
		Kind       string    `parquet:"kind"`
		Embedding  []float32 `parquet:"embedding,optional,list"`
		EmbI8      []int8    `parquet:"embedding_i8,optional,list"`
		EmbScale   float32   `parquet:"embedding_scale,optional"`
		CreatedAt  time.Time `parquet:"created_at,timestamp(microsecond)"`
		Project    string    `parquet:"project,optional"`
		IngestedAt time.Time `parquet:"ingested_at,timestamp(microsecond)"`
	}
	f, err := parquet.OpenFile(r, size)
	if err != nil {
		return nil, err
	}
	rd := parquet.NewGenericReader[row](f)
	defer rd.Close()
	d := &vecindex.FileData{}
	buf := make([]row, 100)
	for {
		k, err := rd.Read(buf)
		for i := range buf[:k] {
			x := &buf[i]
			e := x.Embedding
			if len(e) == 0 && len(x.EmbI8) > 0 {
				e = nil
				for _, q := range x.EmbI8 {
					e = append(e, float32(q)*x.EmbScale)
				}
			}
			ok := len(e) == vecindex.Dim
			for _, v := range e {
				ok = ok && !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0)
			}
			if ok {
				v := slices.Clone(e)
				hnsw.Normalize(v)
				d.VecRow = append(d.VecRow, uint32(len(d.ID)))
				d.Vecs = append(d.Vecs, v...)
			}
			d.ID = append(d.ID, x.ID)
			d.Kind = append(d.Kind, x.Kind)
			d.Project = append(d.Project, x.Project)
			d.Created = append(d.Created, x.CreatedAt.UnixMicro())
			d.Ingested = append(d.Ingested, x.IngestedAt.UnixMicro())
			*x = row{}
		}
		if errors.Is(err, io.EOF) {
			return d, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
