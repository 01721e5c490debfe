package query_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/jobs/compact"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/schemas"
)

// BenchmarkSmallFilesCompaction is the compaction benchmark of
// BENCHMARKS.md: a lake of 10,000 small memories files (100 systems x 25
// days x 4 ingest commits a day, 20 records each, as a fleet pushing small
// batches leaves it) on the S3 server; the six queries warm, through the
// query function and through raw DuckDB over the same cached files, before
// and after compaction, and compaction's own speed. It runs only with
// AKOSHA_BENCH_SMALLFILES=1.
func BenchmarkSmallFilesCompaction(b *testing.B) {
	if os.Getenv("AKOSHA_BENCH_SMALLFILES") == "" {
		b.Skip("set AKOSHA_BENCH_SMALLFILES=1 to build a 10,000-file lake and time compaction")
	}
	const systems, commitsPerDay, perFile = 100, 4, 20
	days := 25
	if v, err := strconv.Atoi(os.Getenv("AKOSHA_BENCH_SMALLFILES_DAYS")); err == nil && v > 0 {
		days = v // a quick try of the harness
	}
	ctx := context.Background()
	store := testenv.S3(b)
	l, err := lake.Open(ctx, store)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for d := 0; d < days; d++ {
		for c := 0; c < commitsPerDay; c++ {
			recs := gen.Memories(uint64(d*commitsPerDay+c+1), systems*perFile, systems, 1)
			for i := range recs {
				recs[i].CreatedAt = recs[i].CreatedAt.AddDate(0, 0, d)
			}
			if _, err := l.AppendMemories(ctx, recs); err != nil {
				b.Fatal(err)
			}
		}
	}
	benchEntities(b, l)
	tb, _ := l.Table(schemas.TableMemories)
	snap := tb.Cached()
	var lakeBytes int64
	for a := range snap.AllFiles() {
		lakeBytes += a.Size
	}
	b.Logf("built %d memories files (%.0f MB) in %v", snap.NumFiles(), float64(lakeBytes)/1e6, time.Since(start).Round(time.Second))

	warm := func() []struct{ ours, raw time.Duration } {
		cacheDir := b.TempDir()
		f, _ := openBenchFunction(b, store, cacheDir)
		defer f.Stop(ctx)
		for _, q := range benchQueries { // fetch everything into the cache
			if _, err := f.Query(ctx, q.sql, 100); err != nil {
				b.Fatal(err)
			}
		}
		raw := rawViews(b, cacheDir)
		defer raw.Close()
		out := make([]struct{ ours, raw time.Duration }, len(benchQueries))
		for i, q := range benchQueries {
			out[i].ours, out[i].raw = timeWarm(b, f, raw, q.sql, 5)
		}
		return out
	}
	before := warm()
	filesBefore := snap.NumFiles()

	t0 := time.Now()
	sum, err := compact.Run(ctx, l, compact.Options{Tables: []string{schemas.TableMemories}})
	if err != nil {
		b.Fatal(err)
	}
	took := time.Since(t0)
	tot := sum.Totals()
	snap, err = tb.Refresh(ctx)
	if err != nil {
		b.Fatal(err)
	}
	after := warm()

	var sb strings.Builder
	fmt.Fprintf(&sb, "\ncompaction: %d -> %d files, %.0f MB -> %.0f MB in %v: %.1f MB/s of input (%d groups)\n",
		filesBefore, snap.NumFiles(), float64(tot.BytesIn)/1e6, float64(tot.BytesOut)/1e6, took.Round(time.Millisecond),
		float64(tot.BytesIn)/1e6/took.Seconds(), tot.Compacted)
	fmt.Fprintf(&sb, "\n| query | before: akosha | before: raw DuckDB | after: akosha | after: raw DuckDB | akosha before/after |\n|---|---|---|---|---|---|\n")
	for i, q := range benchQueries {
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s | %.1fx |\n", q.name, ms(before[i].ours), ms(before[i].raw),
			ms(after[i].ours), ms(after[i].raw), float64(before[i].ours)/float64(after[i].ours))
	}
	b.Log(sb.String())
}
