package lake_test

import (
	"bytes"
	"testing"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/schemas"
)

// BenchmarkTierLayouts writes the same 10,000 memories (384-d embeddings,
// ~600 B of text) in each tier's layout and reports the file size per
// record and the encode speed: what aging saves and what it costs.
//
//	go test -run '^$' -bench TierLayouts -benchtime 5x ./lake/
func BenchmarkTierLayouts(b *testing.B) {
	recs := gen.Memories(5, 10000, 1, 1)
	rows := make([]schemas.MemoryRow, len(recs))
	for i := range recs {
		rows[i] = recs[i].Row()
	}
	for _, tier := range []string{schemas.TierHot, schemas.TierWarm, schemas.TierCold} {
		layout := lake.DefaultLayouts()[tier]
		b.Run(tier, func(b *testing.B) {
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				var err error
				if layout.Encoding == lake.EncodingInt8 {
					q := make([]schemas.QuantizedMemoryRow, len(rows))
					for i := range rows {
						q[i] = rows[i].Quantized()
					}
					err = lake.EncodeParquetLevel(&buf, q, layout.Compression)
				} else {
					err = lake.EncodeParquetLevel(&buf, rows, layout.Compression)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len())/float64(len(rows)), "bytes/record")
			b.ReportMetric(float64(len(rows))*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
