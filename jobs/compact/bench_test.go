package compact

import (
	"context"
	"testing"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/schemas"
)

// BenchmarkCompact measures compaction throughput on the S3 test server:
// MB/s of input files (read, collapsed, re-encoded, uploaded and committed).
// Each iteration compacts 20 files of 500 memories (384-d embeddings, ~600 B
// of text) in one partition into one file.
func BenchmarkCompact(b *testing.B) {
	ctx := context.Background()
	recs := gen.Memories(9, 10000, 1, 1)
	var inBytes int64
	for b.Loop() {
		b.StopTimer()
		l, err := lake.Open(ctx, testenv.S3(b))
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < len(recs); i += 500 {
			if _, err := l.AppendMemories(ctx, recs[i:i+500]); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		sum, err := Run(ctx, l, Options{Tables: []string{schemas.TableMemories}})
		if err != nil {
			b.Fatal(err)
		}
		tot := sum.Totals()
		if tot.Compacted != 1 || tot.RowsOut != int64(len(recs)) {
			b.Fatalf("%+v", tot)
		}
		inBytes += tot.BytesIn
	}
	b.ReportMetric(float64(inBytes)/(1<<20)/b.Elapsed().Seconds(), "MB/s")
	b.ReportMetric(float64(int64(len(recs))*int64(b.N))/b.Elapsed().Seconds(), "records/s")
}
