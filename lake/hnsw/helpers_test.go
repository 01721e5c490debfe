package hnsw

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/akosha/akosha/testdata/textvec"
)

const dim = textvec.Dim

// The package's tests and benchmarks up to 20,000 vectors take them from
// one generated set, base vectors from its front and queries from its back:
// each set costs seconds to generate (more under the race detector), and
// make test's warm step (testdata/textvec/warm) caches this one before the
// suite starts.
const sharedBase, sharedQueries = 20_000, 200

// textData returns n base vectors and nq held-out queries from the textvec
// generator (cached on disk after the first run).
func textData(t testing.TB, n, nq int) (base, queries []float32) {
	t.Helper()
	key := [2]int{n, nq}
	shared := n <= sharedBase && nq <= sharedQueries
	if shared {
		key = [2]int{sharedBase, sharedQueries}
	}
	dataMu.Lock()
	defer dataMu.Unlock()
	v, ok := dataCache[key]
	if !ok {
		var err error
		if v, err = textvec.Vectors(key[0]+key[1], 1); err != nil {
			t.Fatalf("textvec: %v", err)
		}
		dataCache[key] = v
	}
	if shared {
		return v[:n*dim], v[sharedBase*dim : (sharedBase+nq)*dim]
	}
	return v[:n*dim], v[n*dim:]
}

var (
	dataMu    sync.Mutex
	dataCache = map[[2]int][]float32{}
)

// gaussian returns n random unit vectors of dimension d: for tests that need
// no neighbour structure, only numbers.
func gaussian(n, d int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	v := make([]float32, n*d)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	for i := range n {
		Normalize(v[i*d : (i+1)*d])
	}
	return v
}

// skipUnderRace skips a compute-bound test that has no concurrency for
// the race detector to check; make test runs the package again without
// -race, where it runs in full.
func skipUnderRace(t testing.TB) {
	t.Helper()
	if raceEnabled {
		t.Skip("single-goroutine and compute-bound: runs in make test's pass without -race")
	}
}

func mustBuild(t testing.TB, v []float32, d int, cfg Config) *Index {
	t.Helper()
	ix, err := Build(context.Background(), v, d, cfg)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return ix
}

func serialize(t testing.TB, ix *Index) []byte {
	t.Helper()
	return serializeAs(t, "WriteTo", ix.WriteTo, ix.Size())
}

func serializeInt8(t testing.TB, ix *Index) []byte {
	t.Helper()
	return serializeAs(t, "WriteInt8To", ix.WriteInt8To, ix.Int8Size())
}

// serializeAs writes an index with write, checking the count it reports
// against the bytes written and the size the index predicts.
func serializeAs(t testing.TB, name string, write func(io.Writer) (int64, error), size int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := write(&buf)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if n != int64(buf.Len()) || n != size {
		t.Fatalf("%s reported %d bytes, wrote %d, predicted size %d", name, n, buf.Len(), size)
	}
	return buf.Bytes()
}

func query(v []float32, i int) []float32 { return v[i*dim : (i+1)*dim] }

// recallAt10 is the share of the exact top 10 that the index found, by score:
// a result counts when it scores at least the exact 10th (less a rounding
// allowance), so ties between equal vectors are not misses.
func recallAt10(t testing.TB, ix *Index, base, queries []float32, ef int, filter func(int32) bool) float64 {
	t.Helper()
	nq := len(queries) / dim
	hits, total := 0, 0
	for i := range nq {
		q := query(queries, i)
		want, err := ExactParallel(base, dim, q, 10, filter, 0)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ix.Search(q, 10, ef, filter)
		if err != nil {
			t.Fatal(err)
		}
		total += len(want)
		if len(want) == 0 {
			continue
		}
		bound := want[len(want)-1].Score - 1e-5
		for _, r := range got {
			if r.Score >= bound {
				hits++
			}
		}
	}
	if total == 0 {
		return 1
	}
	return float64(hits) / float64(total)
}

// checkResults checks the invariants of any result list: at most k, ids in
// range and distinct, scores falling.
func checkResults(t testing.TB, res []Result, k, n int) {
	t.Helper()
	if len(res) > k {
		t.Fatalf("%d results for k=%d", len(res), k)
	}
	seen := map[int32]bool{}
	for i, r := range res {
		if r.ID < 0 || int(r.ID) >= n || seen[r.ID] {
			t.Fatalf("result %d: id %d (n=%d, seen %v)", i, r.ID, n, seen[r.ID])
		}
		seen[r.ID] = true
		if i > 0 && r.Score > res[i-1].Score {
			t.Fatalf("results not sorted: %v", res)
		}
	}
}

func ids(res []Result) []int32 {
	out := make([]int32, len(res))
	for i, r := range res {
		out[i] = r.ID
	}
	return out
}

func sameResults(a, b []Result) bool { return slices.Equal(a, b) }
