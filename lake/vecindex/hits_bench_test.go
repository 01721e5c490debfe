package vecindex_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/vecindex"
	"github.com/akosha/akosha/schemas"
)

// dayFile is one day of a 1M-record month (33,000 memories of 300-900 B
// text and a 384-d float embedding, ~75 MB), encoded once per test binary:
// encoding it takes seconds.
var dayFile = sync.OnceValues(func() ([]byte, error) {
	recs := gen.Fleet{Systems: 1000, Days: 1, Records: 33000, Seed: 22}.Memories()
	rows := make([]schemas.MemoryRow, len(recs))
	for i := range recs {
		rows[i] = recs[i].Row()
	}
	return encodeErr(rows)
})

// BenchmarkWarmHits reads a warm search's final hits: 20 rows spread over
// 10 or 20 day files held on local disk (in the page cache after the first
// round), each file opened, read and closed as the query function does.
func BenchmarkWarmHits(b *testing.B) {
	data, err := dayFile()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	src := filepath.Join(dir, "day.parquet")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		b.Fatal(err)
	}
	const maxFiles = 20
	paths := make([]string, maxFiles)
	for i := range paths {
		// Hard links: distinct names (and keys), the same bytes on disk.
		paths[i] = filepath.Join(dir, fmt.Sprintf("day-%02d.parquet", i))
		if err := os.Link(src, paths[i]); err != nil {
			b.Fatal(err)
		}
	}
	size := int64(len(data))
	for _, nfiles := range []int{10, 20} {
		r := rand.New(rand.NewPCG(uint64(nfiles), 1))
		rows := make([][]uint32, nfiles)
		for h := range 20 {
			rows[h%nfiles] = append(rows[h%nfiles], uint32(r.IntN(33000)))
		}
		for _, rr := range rows {
			slices.Sort(rr)
		}
		// One way to read a file's hits: the old reader, the new one
		// opening the file afresh, and the new one with the footer kept
		// (as the query function does for cached files).
		files := vecindex.NewFiles(0)
		for _, way := range []struct {
			name string
			read func(i int, fh *os.File) ([]vecindex.Hit, error)
		}{
			{"cells-open-each", func(i int, fh *os.File) ([]vecindex.Hit, error) {
				return vecindex.HitsAtByCells(fh, size, rows[i])
			}},
			{"pages-open-each", func(i int, fh *os.File) ([]vecindex.Hit, error) {
				return vecindex.HitsAt(context.Background(), fh, size, rows[i])
			}},
			{"pages-kept-footer", func(i int, fh *os.File) ([]vecindex.Hit, error) {
				f := files.Get(paths[i])
				if f == nil {
					var err error
					if f, err = vecindex.OpenFile(fh, size); err != nil {
						return nil, err
					}
					files.Put(paths[i], f)
				}
				return f.HitsAt(context.Background(), fh, rows[i])
			}},
		} {
			b.Run(fmt.Sprintf("files=%d/%s", len(rows), way.name), func(b *testing.B) {
				for b.Loop() {
					for i, rr := range rows {
						fh, err := os.Open(paths[i])
						if err != nil {
							b.Fatal(err)
						}
						hits, err := way.read(i, fh)
						fh.Close()
						if err != nil || len(hits) != len(rr) || hits[0].Vec == nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}

func encodeErr[Row any](rows []Row) ([]byte, error) {
	var buf bytes.Buffer
	err := lake.EncodeParquet(&buf, rows)
	return buf.Bytes(), err
}
