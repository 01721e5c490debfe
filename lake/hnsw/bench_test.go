package hnsw

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
)

// Benchmarks on textvec vectors. 100k always; 1M too with AKOSHA_BENCH_1M=1
// (building it takes minutes). The side-by-side comparison with hnswlib is
// `go run ./lake/hnsw/bench`.
//
//	go test -run '^$' -bench . -benchtime 1x ./lake/hnsw
//	AKOSHA_BENCH_1M=1 go test -run '^$' -bench . -benchtime 1x -timeout 60m ./lake/hnsw

func benchSizes() []int {
	if os.Getenv("AKOSHA_BENCH_1M") == "1" {
		return []int{100_000, 1_000_000}
	}
	return []int{100_000}
}

const benchQueries = 500

// benchIndex builds each size once per process, for all the benchmarks.
var benchIndex = struct {
	sync.Mutex
	m map[int]*Index
}{m: map[int]*Index{}}

func builtIndex(b *testing.B, n int) *Index {
	benchIndex.Lock()
	defer benchIndex.Unlock()
	if ix := benchIndex.m[n]; ix != nil {
		return ix
	}
	base, _ := textData(b, n, benchQueries)
	ix, err := Build(context.Background(), base, dim, Config{})
	if err != nil {
		b.Fatal(err)
	}
	benchIndex.m[n] = ix
	return ix
}

// BenchmarkBuild reports build throughput at the defaults on GOMAXPROCS
// workers, and the serialized size per vector.
func BenchmarkBuild(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			base, _ := textData(b, n, benchQueries)
			b.ResetTimer()
			var ix *Index
			for range b.N {
				var err error
				if ix, err = Build(context.Background(), base, dim, Config{}); err != nil {
					b.Fatal(err)
				}
			}
			el := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(n)/el, "vectors/s")
			b.ReportMetric(float64(ix.Size())/float64(n), "bytes/vector")
			b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "workers")
			benchIndex.Lock()
			benchIndex.m[n] = ix
			benchIndex.Unlock()
		})
	}
}

// BenchmarkSearch is single-threaded queries at each ef, with recall@10
// against the exact scan.
func BenchmarkSearch(b *testing.B) {
	for _, n := range benchSizes() {
		base, queries := textData(b, n, benchQueries)
		ix := builtIndex(b, n)
		truth := make([][]Result, benchQueries)
		for i := range truth {
			truth[i], _ = ExactParallel(base, dim, query(queries, i), 10, nil, 0)
		}
		for _, ef := range []int{16, 32, 64, 100, 200} {
			b.Run(fmt.Sprintf("n=%d/ef=%d", n, ef), func(b *testing.B) {
				hits := 0
				for i := range b.N {
					j := i % benchQueries
					res, _ := ix.Search(query(queries, j), 10, ef, nil)
					for _, r := range res {
						for _, w := range truth[j] {
							if r.ID == w.ID {
								hits++
							}
						}
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
				b.ReportMetric(float64(hits)/float64(10*b.N), "recall@10")
			})
		}
	}
}

// BenchmarkExact is the exact scan on one core, in vectors/s.
func BenchmarkExact(b *testing.B) {
	for _, n := range benchSizes() {
		base, queries := textData(b, n, benchQueries)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(base) * 4))
			for i := range b.N {
				if _, err := Exact(base, dim, query(queries, i%benchQueries), 10, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "vectors/s")
		})
	}
}

// BenchmarkLoad is opening a serialized 100k index from memory: checksum
// and validation, no copy.
func BenchmarkLoad(b *testing.B) {
	ix := builtIndex(b, 100_000)
	data := serialize(b, ix)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		if _, err := Load(data); err != nil {
			b.Fatal(err)
		}
	}
}
