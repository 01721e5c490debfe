package compact

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/schemas"
)

// BenchmarkDedupeRewrite is the cost of compaction's cross-partition
// dedupe (the AKOSHA DEDUPE commit, issue 15) on the S3 test server: a
// lake of AKOSHA_BENCH_DEDUPE_RECORDS memories (default 1,000,000; 384-d
// embeddings, ~600 B of text) from 100 systems over 30 days, written in
// ingest commits of 50,000 (one hot file per day each), then 1% of them
// re-sent with created_at one day later (another partition) and new
// content. The dedupe pass alone is timed: it reads every live file's key
// columns, plans, and rewrites each file holding a superseded row without
// it, in one commit.
//
// It builds a large lake, so it runs only with AKOSHA_BENCH_DEDUPE=1:
//
//	AKOSHA_BENCH_DEDUPE=1 ./scripts/with-services.sh go test -run '^$' -bench DedupeRewrite -benchtime 1x -timeout 60m ./jobs/compact/
func BenchmarkDedupeRewrite(b *testing.B) {
	if os.Getenv("AKOSHA_BENCH_DEDUPE") != "1" {
		b.Skip("set AKOSHA_BENCH_DEDUPE=1 (builds a lake of 1M records on the S3 server)")
	}
	total := 1_000_000
	if s := os.Getenv("AKOSHA_BENCH_DEDUPE_RECORDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1000 {
			b.Fatalf("AKOSHA_BENCH_DEDUPE_RECORDS=%q: want a number of at least 1000", s)
		}
		total = n
	}
	const systems, days, batch = 100, 30, 50_000
	ctx := context.Background()
	for range b.N {
		b.StopTimer()
		l, err := lake.Open(ctx, testenv.S3(b))
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		var resent []schemas.Memory
		for i := 0; i < total; i += batch {
			n := min(batch, total-i)
			recs := gen.Memories(uint64(1000+i/batch), n, systems, days)
			if _, err := l.AppendMemories(ctx, recs); err != nil {
				b.Fatal(err)
			}
			for j := 0; j < n; j += 100 { // 1%, spread over every batch
				m := recs[j]
				m.CreatedAt = m.CreatedAt.Add(24 * time.Hour)
				m.Content = "re-sent " + m.ID
				resent = append(resent, m)
			}
		}
		if _, err := l.AppendMemories(ctx, resent); err != nil {
			b.Fatal(err)
		}
		t, _ := l.Table(schemas.TableMemories)
		snap, err := t.Refresh(ctx)
		if err != nil {
			b.Fatal(err)
		}
		var lakeBytes int64
		for a := range snap.AllFiles() {
			lakeBytes += a.Size
		}
		b.Logf("built %d records + %d re-sent in %d files (%.1f MB) in %s", total, len(resent), snap.NumFiles(),
			float64(lakeBytes)/1e6, time.Since(start).Round(time.Second))

		b.StartTimer()
		began := time.Now()
		res, err := dedupe(ctx, t, Options{})
		elapsed := time.Since(began)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if res.Superseded != int64(len(resent)) {
			b.Fatalf("dedupe removed %d rows, want %d", res.Superseded, len(resent))
		}
		acts, err := t.Log.ReadCommit(ctx, res.Version)
		if err != nil {
			b.Fatal(err)
		}
		var removed, added int64
		for _, a := range acts {
			switch {
			case a.Remove != nil:
				removed += a.Remove.Size
			case a.Add != nil:
				added += a.Add.Size
			}
		}
		b.Logf("dedupe: %d superseded rows removed in %s: %d of %d files rewritten, %.1f MB read and %.1f MB written (%.0f%% of the table), %.1f MB/s of input",
			res.Superseded, elapsed.Round(10*time.Millisecond), res.FilesIn, snap.NumFiles(), float64(removed)/1e6, float64(added)/1e6,
			100*float64(removed)/float64(lakeBytes), float64(removed)/1e6/elapsed.Seconds())
		b.ReportMetric(elapsed.Seconds(), "s/dedupe")
		b.ReportMetric(float64(removed)/1e6, "MB-rewritten")
		b.ReportMetric(float64(res.FilesIn), "files-rewritten")
	}
}
