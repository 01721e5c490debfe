package lake_test

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/akosha/akosha/internal/cputime"
	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/storage"
)

// discardStore takes every Put and keeps nothing: BenchmarkStageGroup
// measures the writer, not a store.
type discardStore struct {
	storage.Store
	puts, bytes atomic.Int64
}

func (d *discardStore) Put(_ context.Context, _ string, r io.Reader, _ int64) error {
	d.puts.Add(1)
	n, err := io.Copy(io.Discard, r)
	d.bytes.Add(n)
	return err
}

// BenchmarkStageGroup stages one group commit of ingest's fleet benchmark
// (32 batches of 100 records from 32 systems, 384-d vectors) in its two
// shapes: live (every record today: one file) and backfill (each system's
// last 30 days: a file per day of ~100 records), the per-file cost of issue
// 22's backfill shape without HTTP or S3.
func BenchmarkStageGroup(b *testing.B) {
	for _, shape := range []string{"live", "backfill"} {
		recs := gen.Fleet{Systems: 32, Days: 30, Records: 3200, Seed: 22}.Memories()
		if shape == "live" {
			now := time.Now().UTC()
			for i := range recs {
				recs[i].CreatedAt = now.Add(-time.Duration(1+i%3600) * time.Second)
			}
		}
		b.Run(shape, func(b *testing.B) {
			store := &discardStore{}
			b.ReportAllocs()
			cpu0 := cputime.Self()
			for b.Loop() {
				if _, err := lake.StageMemories(context.Background(), store, recs); err != nil {
					b.Fatal(err)
				}
			}
			if cpu := cputime.Self() - cpu0; cpu > 0 {
				// CPU, not wall time: the machine these run on is shared.
				b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
			}
			b.ReportMetric(float64(store.puts.Load())/float64(b.N), "files/op")
			b.ReportMetric(float64(store.bytes.Load())/float64(b.N), "file-bytes/op")
			b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
