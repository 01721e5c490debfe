package query_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/jobs/indexer"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/hnsw"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/lake/vecindex"
	"github.com/akosha/akosha/schemas"
	"github.com/akosha/akosha/testdata/textvec"
)

// BenchmarkSearch measures search latency (Function.Search, the handler of
// POST /v1/search without HTTP) on a lake of AKOSHA_BENCH_VECTORS textvec
// vectors (default 1,000,000) over 20 systems and 10 days (200 partitions,
// 20 (tier, system) indexes across the days) on the S3 server, indexed by
// the index job: cold (p50 of 7 queries, each on a fresh function with an
// empty cache: indexes and data files fetched from S3) and warm (p50/p99
// over 200 queries), with recall@10 against an exact scan. It is
// slow: it runs only with AKOSHA_BENCH_SEARCH=1.
func BenchmarkSearch(b *testing.B) {
	if os.Getenv("AKOSHA_BENCH_SEARCH") == "" {
		b.Skip("set AKOSHA_BENCH_SEARCH=1 to build an indexed lake and time searches")
	}
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("AKOSHA_BENCH_VECTORS")); err == nil && v > 0 {
		n = v
	}
	const nq = 200
	ctx := context.Background()
	start := time.Now()
	vecs, err := textvec.Vectors(n+nq, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d textvec vectors in %v", n+nq, time.Since(start).Round(time.Millisecond))
	vec := func(i int) []float32 { return vecs[i*textvec.Dim : (i+1)*textvec.Dim] }
	store, built := benchSearchStore(b, n)
	switch {
	case !built:
		buildSearchLake(b, store, n, vec)
	case os.Getenv("AKOSHA_BENCH_SEARCH_KEEP") == "reindex":
		reindexSearchLake(b, store)
	}
	search := func(f *query.Function, i int) (*query.SearchResponse, time.Duration) {
		q := vec(n + i%nq)
		t0 := time.Now()
		res, err := f.Search(ctx, query.SearchRequest{Vector: f64(q), K: ptr(10)})
		if err != nil {
			b.Fatal(err)
		}
		return res, time.Since(t0)
	}
	// Cold: each query on a fresh function with an empty cache.
	// AKOSHA_BENCH_SEARCH_PROFILE=<file> writes CPU profiles of the cold
	// queries alone (<file>.cold) and of the timed warm ones (<file>.warm).
	profile := func(phase string) func() {
		return testenv.CPUProfile(b, os.Getenv("AKOSHA_BENCH_SEARCH_PROFILE"), "."+phase)
	}
	stopProfile := profile("cold")
	var cold []time.Duration
	for i := range 7 {
		runtime.GC() // the previous function's indexes are gone, as in a new process
		f, _ := openBenchFunction(b, store, b.TempDir())
		_, d := search(f, i)
		cold = append(cold, d)
		st := f.CacheStats()
		b.Logf("cold query %d: %v, fetched %s in %d downloads", i, d.Round(time.Millisecond), mb(st.FetchedBytes), st.Downloads)
		f.Stop(ctx)
	}
	stopProfile()
	// Warm.
	f, _ := openBenchFunction(b, store, b.TempDir())
	for i := range nq {
		search(f, i)
	}
	var warm []time.Duration
	stopProfile = profile("warm")
	for i := range nq {
		_, d := search(f, i)
		warm = append(warm, d)
	}
	stopProfile()
	// Recall apart from the timings: an exact scan of the whole lake
	// between two timed searches would time its wake (caches, GC) too.
	var hits, total int
	for i := range 20 {
		res, _ := search(f, i)
		exact, _ := hnsw.ExactParallel(vecs[:n*textvec.Dim], textvec.Dim, vec(n+i), 10, nil, 0)
		// Tie-robust recall: textvec has exact duplicates, so a result
		// counts when it scores at least the true 10th best.
		kth := exact[len(exact)-1].Score
		for _, r := range res.Results {
			if r.Score >= kth-1e-5 {
				hits++
			}
		}
		total += len(exact)
	}
	slices.Sort(warm)
	slices.Sort(cold)
	p50, p99 := warm[len(warm)/2], warm[len(warm)*99/100]
	b.Logf("warm over %d queries: p50 %s, p99 %s; recall@10 %.3f; cold over %d: p50 %s (%s to %s)", len(warm), ms(p50), ms(p99),
		float64(hits)/float64(total), len(cold), ms(cold[len(cold)/2]), ms(cold[0]), ms(cold[len(cold)-1]))
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(cold[len(cold)/2].Microseconds())/1000, "cold-p50-ms")
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		search(f, i)
	}
}

// benchSearchStore is the benchmark's store: a fresh prefix, or with
// AKOSHA_BENCH_SEARCH_KEEP=1 a fixed one per lake size, so that profiling
// runs reuse a lake an earlier run built and indexed (built reports that;
// AKOSHA_BENCH_SEARCH_KEEP=reindex also replaces its indexes).
func benchSearchStore(b *testing.B, n int) (store *storage.S3, built bool) {
	if os.Getenv("AKOSHA_BENCH_SEARCH_KEEP") == "" {
		return testenv.S3(b), false
	}
	ctx := context.Background()
	cfg := testenv.S3Config(b)
	cfg.Prefix = fmt.Sprintf("bench/search-%d", n)
	store, err := storage.NewS3(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := store.EnsureBucket(ctx); err != nil {
		b.Fatal(err)
	}
	_, err = store.Head(ctx, benchReadyKey)
	return store, err == nil
}

const benchReadyKey = "bench-ready"

// buildSearchLake writes n textvec memories over 20 systems and 10 days
// and runs the index job.
func buildSearchLake(b *testing.B, store *storage.S3, n int, vec func(int) []float32) {
	const systems, days = 20, 10
	ctx := context.Background()
	l, err := lake.Open(ctx, store)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	base := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -days)
	kinds := []string{schemas.KindConversation, schemas.KindReflection, schemas.KindMemory}
	for d := range days {
		var recs []schemas.Memory
		for i := d; i < n; i += days {
			recs = append(recs, schemas.Memory{
				SystemID: fmt.Sprintf("sys-%02d", i/days%systems), ID: fmt.Sprintf("m%07d", i), Kind: kinds[i%3],
				Content: fmt.Sprintf("memory %d", i), Embedding: vec(i),
				CreatedAt: base.Add(time.Duration(d)*24*time.Hour + time.Duration(i%86400)*time.Second),
			})
		}
		if _, err := l.AppendMemories(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("lake of %d memories in %d partitions written in %v", n, systems*days, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	sum, err := indexer.Run(ctx, l, indexer.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("index job: %d (tier, system) indexes built (%d vectors, %d groups too small) in %v", sum.Built, sum.Vectors, sum.Small, time.Since(start).Round(time.Millisecond))

	if err := store.Put(ctx, benchReadyKey, strings.NewReader("ok"), 2); err != nil {
		b.Fatal(err)
	}
}

// reindexSearchLake deletes the lake's indexes and runs the index job again.
func reindexSearchLake(b *testing.B, store *storage.S3) {
	ctx := context.Background()
	objs, err := store.List(ctx, vecindex.Prefix(schemas.TableMemories))
	if err != nil {
		b.Fatal(err)
	}
	for _, o := range objs {
		if err := store.Delete(ctx, o.Key); err != nil {
			b.Fatal(err)
		}
	}
	l, err := lake.Open(ctx, store)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	sum, err := indexer.Run(ctx, l, indexer.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("index job: %d (tier, system) indexes rebuilt (%d vectors) in %v", sum.Built, sum.Vectors, time.Since(start).Round(time.Millisecond))
}
