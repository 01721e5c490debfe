package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/akosha/akosha/functions/ingest"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/schemas"
)

// Session-Buddy sends batches of 100. These benchmarks push such batches over
// real HTTP into a real S3 server and count records acknowledged (committed)
// per second, beside the lake writer alone writing the same records.

const benchBatch = 100

func benchBodies(n int, b64 bool) [][]byte {
	recs := gen.Memories(42, n*benchBatch, 8, 1)
	bodies := make([][]byte, n)
	for i := range bodies {
		part := recs[i*benchBatch : (i+1)*benchBatch]
		objs := make([]map[string]any, len(part))
		for j := range part {
			part[j].CreatedAt = time.Now().UTC().Add(-time.Minute)
			raw, _ := json.Marshal(part[j])
			json.Unmarshal(raw, &objs[j])
			if b64 {
				delete(objs[j], "embedding")
				objs[j]["embedding_b64"] = schemas.EncodeEmbeddingB64(part[j].Embedding)
			}
		}
		bodies[i], _ = json.Marshal(map[string]any{"records": objs})
	}
	return bodies
}

func BenchmarkIngestHTTP(b *testing.B) {
	for _, enc := range []string{"json", "b64"} {
		bodies := benchBodies(64, enc == "b64")
		for _, clients := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("%s/clients=%d", enc, clients), func(b *testing.B) {
				s := startOn(b, testenv.S3(b), auth.Config{Disabled: true}, ingest.Config{})
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
				var next atomic.Int64
				var mu sync.Mutex
				var lat []time.Duration
				var wg sync.WaitGroup
				b.SetBytes(int64(len(bodies[0])))
				b.ResetTimer()
				for c := 0; c < clients; c++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							i := next.Add(1) - 1
							if i >= int64(b.N) {
								return
							}
							body := bodies[i%int64(len(bodies))]
							t0 := time.Now()
							resp, err := client.Post(s.URL+"/v1/memories?system_id=sys-bench", "application/json", bytes.NewReader(body))
							if err != nil {
								b.Error(err)
								return
							}
							io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							if resp.StatusCode != 200 {
								b.Errorf("status %d", resp.StatusCode)
								return
							}
							d := time.Since(t0)
							mu.Lock()
							lat = append(lat, d)
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				reportLatency(b, lat, benchBatch)
			})
		}
	}
}

// BenchmarkLakeWriterAlone writes the same records through the lake writer,
// with no HTTP, JSON or validation: the ceiling ingest is measured against.
func BenchmarkLakeWriterAlone(b *testing.B) {
	recs := gen.Memories(42, 64*benchBatch, 8, 1)
	l, err := lake.Open(context.Background(), testenv.S3(b))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.AppendMemories(context.Background(), recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "records/s")
}

func reportLatency(b *testing.B, lat []time.Duration, perRequest int) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(len(lat)*perRequest)/b.Elapsed().Seconds(), "records/s")
}
