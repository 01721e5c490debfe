package indexer_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/jobs/compact"
	"github.com/akosha/akosha/jobs/indexer"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/vecindex"
	"github.com/akosha/akosha/schemas"
)

// BenchmarkIndexJobDaily is the index job's steady state: a fleet's lake
// fed one day at a time (ingest, then compaction, then the index job, as the
// CronJobs run them), on a local lake so that the figure is the job's own
// work. It reports the index job's time per day over the last week, the
// vectors inserted into graphs over the vectors indexed (each vector is
// inserted once when its segment is built and again at each merge), the
// segments of the tier at the end, and the time of one build of the whole
// tier over the same vectors (MaxSegments 1: what one index per tier
// rebuilt whole costs every time it is rebuilt).
//
//	go test -run '^$' -bench IndexJobDaily -benchtime 1x ./jobs/indexer
//	  AKOSHA_BENCH_INDEX_DAYS (30), AKOSHA_BENCH_INDEX_PER_DAY (3300),
//	  AKOSHA_BENCH_INDEX_SYSTEMS (100)
func BenchmarkIndexJobDaily(b *testing.B) {
	days := envInt(b, "AKOSHA_BENCH_INDEX_DAYS", 30)
	perDay := envInt(b, "AKOSHA_BENCH_INDEX_PER_DAY", 3300)
	systems := envInt(b, "AKOSHA_BENCH_INDEX_SYSTEMS", 100)
	for range b.N {
		ctx := context.Background()
		l, err := lake.Open(ctx, testenv.Local(b))
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		var lastWeek time.Duration
		var inserted int64
		for d := range days {
			recs := gen.Memories(uint64(d+1), perDay, systems, 1)
			for i := range recs {
				recs[i].CreatedAt = recs[i].CreatedAt.AddDate(0, 0, d)
			}
			for i := 0; i < len(recs); i += 1000 {
				if _, err := l.AppendMemories(ctx, recs[i:min(i+1000, len(recs))]); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := compact.Run(ctx, l, compact.Options{}); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			b.StartTimer()
			sum, err := indexer.Run(ctx, l, indexer.Options{})
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			if d >= days-7 {
				lastWeek += time.Since(start)
			}
			inserted += sum.Vectors
		}
		segs, vectors := segments(b, l)
		// One index per tier built whole: the same vectors in one graph,
		// once the segments are gone.
		objs, err := vecindex.ListManifests(ctx, l.Store(), schemas.TableMemories)
		if err != nil {
			b.Fatal(err)
		}
		all, err := l.Store().List(ctx, vecindex.Prefix(schemas.TableMemories))
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range all {
			if err := l.Store().Delete(ctx, o.Key); err != nil {
				b.Fatal(err)
			}
		}
		start := time.Now()
		whole, err := indexer.Run(ctx, l, indexer.Options{})
		wholeTime := time.Since(start)
		if err != nil || whole.Built != 1 {
			b.Fatalf("whole-tier build: %+v, %v", whole, err)
		}
		b.ReportMetric(lastWeek.Seconds()/float64(min(7, days)), "s/day-last-week")
		b.ReportMetric(float64(inserted)/float64(vectors), "inserts/vector")
		b.ReportMetric(float64(segs), "segments")
		b.ReportMetric(wholeTime.Seconds(), "s/whole-tier-build")
		b.Logf("%d days x %d records, %d systems: %d vectors in %d segments (%d manifests written), %d inserted over the month; "+
			"the whole tier in one graph: %d vectors in %s",
			days, perDay, systems, vectors, segs, len(objs), inserted, whole.Vectors, wholeTime.Round(time.Millisecond))
	}
}

// segments counts the segments a search would use in the hot tier, and
// their vectors.
func segments(b *testing.B, l *lake.Lake) (n int, vectors int64) {
	ctx := context.Background()
	t, err := l.Table(schemas.TableMemories)
	if err != nil {
		b.Fatal(err)
	}
	snap, err := t.Refresh(ctx)
	if err != nil {
		b.Fatal(err)
	}
	live := map[string]int64{}
	for a := range snap.AllFiles() {
		live[a.Path] = a.Size
	}
	objs, err := vecindex.ListManifests(ctx, l.Store(), schemas.TableMemories)
	if err != nil {
		b.Fatal(err)
	}
	var ms []*vecindex.Manifest
	for _, o := range objs {
		m, err := vecindex.ReadManifest(ctx, l.Store(), o.Key)
		if err != nil {
			b.Fatal(err)
		}
		ms = append(ms, m)
	}
	for _, m := range vecindex.Segments(ms, live) {
		n++
		vectors += int64(m.Vectors)
	}
	return n, vectors
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}
