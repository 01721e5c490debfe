package vecindex_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/lake/vecindex"
	"github.com/akosha/akosha/schemas"
)

// BenchmarkReadFile decodes the search columns of a hot file of 5,000
// memories (one system's day at 1M records over 20 systems and 10 days):
// ReadFile, beside parquet-go's generic row reader doing the same
// (readFileByRows, the tests' reference).
func BenchmarkReadFile(b *testing.B) {
	recs := gen.Memories(1, 5000, 1, 1)
	rows := make([]schemas.MemoryRow, len(recs))
	for i := range recs {
		rows[i] = recs[i].Row()
	}
	data := encode(b, rows)
	for _, bb := range []struct {
		name string
		read func(io.ReaderAt, int64) (*vecindex.FileData, error)
	}{{"columns", vecindex.ReadFile}, {"rows", readFileByRows}} {
		b.Run(bb.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				d, err := bb.read(bytes.NewReader(data), int64(len(data)))
				if err != nil || d.Vectors() != 5000 {
					b.Fatal(err)
				}
			}
		})
	}
}
