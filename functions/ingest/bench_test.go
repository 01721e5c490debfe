package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/akosha/akosha/functions/ingest"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/cputime"
	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// Session-Buddy sends batches of 100. These benchmarks push such batches over
// real HTTP into a real S3 server and count records acknowledged (committed),
// beside the lake writer alone writing the same records. One op is one batch
// of 100 records everywhere, so -benchtime Nx means the same records for each.
//
//	go test -run '^$' -bench 'IngestHTTP|LakeWriterAlone' -benchtime 3000x ./functions/ingest/
//
// Load models:
//
//	clients=N   closed loop: N clients, each re-sends the instant it is
//	            acknowledged. This measures capacity; a request's latency is
//	            then one round of all N clients' work (Little's law).
//	paced=F     open loop: 64 clients send batches on a fixed schedule whose
//	            total rate is the fraction F of the capacity the clients=64
//	            run measured in the same process (or AKOSHA_BENCH_INGEST_CAPACITY
//	            records/s, or a short calibration run). Latency counts from the
//	            scheduled send time, so a late send is not hidden (no
//	            coordinated omission). AKOSHA_BENCH_INGEST_PACED sets the
//	            fractions (default "0.5,0.8").
//
// Besides records/s and latency each benchmark reports the CPU the benchmark
// process used in the timed part (cpu-s: getrusage user+sys; it runs the
// clients and the server, so rec/cpu-s is a lower bound of records per core
// second) and, on Linux, that of the S3 server listening on the endpoint
// (s3-cpu-s, from /proc).

const (
	benchBatch   = 100
	benchBodiesN = 64
)

var benchBodyCache sync.Map // bool (b64) -> [][]byte

// benchBodies returns 64 request bodies of benchBatch memories each, with
// the embedding as a JSON array or as embedding_b64.
func benchBodies(b64 bool) [][]byte {
	if v, ok := benchBodyCache.Load(b64); ok {
		return v.([][]byte)
	}
	recs := gen.Memories(42, benchBodiesN*benchBatch, 8, 1)
	created := time.Now().UTC().Add(-time.Minute)
	for i := range recs {
		recs[i].CreatedAt = created
	}
	bodies := encodeBodies(recs, b64)
	v, _ := benchBodyCache.LoadOrStore(b64, bodies)
	return v.([][]byte)
}

// encodeBodies makes request bodies of benchBatch records each, in order,
// with the embedding as a JSON array or as embedding_b64.
func encodeBodies(recs []schemas.Memory, b64 bool) [][]byte {
	bodies := make([][]byte, 0, len(recs)/benchBatch)
	for i := 0; i+benchBatch <= len(recs); i += benchBatch {
		var buf bytes.Buffer
		buf.WriteString(`{"records":[`)
		for j := range benchBatch {
			m := recs[i+j]
			emb := m.Embedding
			if b64 {
				m.Embedding = nil
			}
			raw, err := m.MarshalJSON()
			if err != nil {
				panic(err) // generated records always marshal
			}
			if j > 0 {
				buf.WriteByte(',')
			}
			if b64 {
				raw = raw[:len(raw)-1] // drop '}'
				buf.Write(raw)
				buf.WriteString(`,"embedding_b64":"` + schemas.EncodeEmbeddingB64(emb) + `"}`)
			} else {
				buf.Write(raw)
			}
		}
		buf.WriteString(`]}`)
		bodies = append(bodies, buf.Bytes())
	}
	return bodies
}

// capacity is the records/s each encoding reached with 64 closed-loop
// clients in this process: the base of the paced runs.
var capacity sync.Map // string -> float64

func BenchmarkIngestHTTP(b *testing.B) {
	fractions := pacedFractions(b)
	for _, enc := range []string{"json", "b64"} {
		bodies := benchBodies(enc == "b64")
		for _, clients := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("%s/clients=%d", enc, clients), func(b *testing.B) {
				s := benchServer(b)
				client := benchClient(clients)
				b.SetBytes(int64(len(bodies[0])))
				v0 := memoriesVersion(s)
				cpu := startCPU()
				b.ResetTimer()
				lat := closedLoop(b, client, s.URL, bodies, clients, b.N)
				b.StopTimer()
				rate := reportLatency(b, lat, benchBatch)
				cpu.report(b, len(lat)*benchBatch)
				reportCommits(b, s, v0, len(lat)*benchBatch)
				if clients == 64 && b.N >= 10*clients {
					capacity.Store(enc, rate)
				}
			})
		}
		for _, frac := range fractions {
			b.Run(fmt.Sprintf("%s/paced=%g%%", enc, frac*100), func(b *testing.B) {
				const clients = 64
				s := benchServer(b)
				client := benchClient(clients)
				capRate := pacedCapacity(b, enc, client, s.URL, bodies)
				rate := frac * capRate // records/s offered
				b.SetBytes(int64(len(bodies[0])))
				v0 := memoriesVersion(s)
				cpu := startCPU()
				b.ResetTimer()
				lat := pacedLoop(b, client, s.URL, bodies, clients, b.N, rate/benchBatch)
				b.StopTimer()
				b.ReportMetric(rate, "offered-rec/s")
				reportLatency(b, lat, benchBatch)
				cpu.report(b, len(lat)*benchBatch)
				reportCommits(b, s, v0, len(lat)*benchBatch)
			})
		}
	}
}

// benchServer starts an ingest function on a fresh prefix of the S3 server,
// whose objects are deleted when the benchmark ends.
func benchServer(b *testing.B) *server {
	store := testenv.S3(b)
	b.Cleanup(func() { purge(b, store) })
	return startOn(b, store, auth.Config{Disabled: true}, ingest.Config{})
}

func benchClient(clients int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxIdleConns: 2 * clients}}
}

func pacedFractions(b *testing.B) []float64 {
	spec := os.Getenv("AKOSHA_BENCH_INGEST_PACED")
	if spec == "" {
		spec = "0.5,0.8"
	}
	var out []float64
	for _, f := range strings.Split(spec, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || x <= 0 {
			b.Fatalf("AKOSHA_BENCH_INGEST_PACED: %q is not a positive fraction", f)
		}
		out = append(out, x)
	}
	return out
}

// pacedCapacity is the base rate of a paced run: the clients=64 capacity of
// this process, AKOSHA_BENCH_INGEST_CAPACITY, or a calibration run of 20
// rounds of 64 clients on s.
func pacedCapacity(b *testing.B, enc string, client *http.Client, url string, bodies [][]byte) float64 {
	if v, ok := capacity.Load(enc); ok {
		return v.(float64)
	}
	if s := os.Getenv("AKOSHA_BENCH_INGEST_CAPACITY"); s != "" {
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || x <= 0 {
			b.Fatalf("AKOSHA_BENCH_INGEST_CAPACITY: %q is not a positive rate", s)
		}
		return x
	}
	t0 := time.Now()
	lat := closedLoop(b, client, url, bodies, 64, 20*64)
	rate := float64(len(lat)*benchBatch) / time.Since(t0).Seconds()
	capacity.Store(enc, rate)
	return rate
}

// postBatch sends one body and reports whether it was acknowledged.
func postBatch(b *testing.B, client *http.Client, url string, body []byte) bool {
	resp, err := client.Post(url+"/v1/memories", "application/json", bytes.NewReader(body))
	if err != nil {
		b.Error(err)
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Errorf("status %d", resp.StatusCode)
		return false
	}
	return true
}

// closedLoop sends n requests from clients clients, each sending its next
// request when the previous one is acknowledged.
func closedLoop(b *testing.B, client *http.Client, url string, bodies [][]byte, clients, n int) []time.Duration {
	var next atomic.Int64
	lats := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				t0 := time.Now()
				if !postBatch(b, client, url, bodies[i%int64(len(bodies))]) {
					return
				}
				lats[c] = append(lats[c], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	return joinLatencies(lats)
}

// pacedLoop sends n requests at reqRate requests/s in total: request i is
// due at start + i/reqRate and goes to client i mod clients, which sends it
// when due or, if its previous request is still out, as soon as that is
// answered. Latency counts from the due time.
func pacedLoop(b *testing.B, client *http.Client, url string, bodies [][]byte, clients, n int, reqRate float64) []time.Duration {
	interval := time.Duration(float64(time.Second) / reqRate)
	start := time.Now().Add(10 * time.Millisecond)
	lats := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < n; i += clients {
				due := start.Add(time.Duration(i) * interval)
				if d := time.Until(due); d > 0 {
					time.Sleep(d)
				}
				if !postBatch(b, client, url, bodies[i%len(bodies)]) {
					return
				}
				lats[c] = append(lats[c], time.Since(due))
			}
		}()
	}
	wg.Wait()
	return joinLatencies(lats)
}

func joinLatencies(lats [][]time.Duration) []time.Duration {
	var out []time.Duration
	for _, l := range lats {
		out = append(out, l...)
	}
	return out
}

// BenchmarkLakeWriterAlone writes the same records through the lake writer,
// with no HTTP, JSON or validation: the ceiling ingest is measured against.
// Records go in appends of 6,400 (64 batches, what a group commit of 64
// clients carries); one op is 100 records, as in BenchmarkIngestHTTP.
func BenchmarkLakeWriterAlone(b *testing.B) {
	recs := gen.Memories(42, benchBodiesN*benchBatch, 8, 1)
	store := testenv.S3(b)
	b.Cleanup(func() { purge(b, store) })
	l, err := lake.Open(context.Background(), store)
	if err != nil {
		b.Fatal(err)
	}
	cpu := startCPU()
	b.ResetTimer()
	for done := 0; done < b.N; done += benchBodiesN {
		n := min(benchBodiesN, b.N-done) * benchBatch
		if _, err := l.AppendMemories(context.Background(), recs[:n]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "records/s")
	cpu.report(b, b.N*benchBatch)
}

func memoriesVersion(s *server) int64 {
	t, err := s.lake.Table(schemas.TableMemories)
	if err != nil {
		return 0
	}
	return t.Cached().Version
}

// reportCommits reports the records per group commit (rec/commit) since
// version v0, the memories table's version when the timed part began.
func reportCommits(b *testing.B, s *server, v0 int64, records int) {
	if n := memoriesVersion(s) - v0; n > 0 {
		b.ReportMetric(float64(records)/float64(n), "rec/commit")
	}
}

// reportLatency reports p50, p99 and the acknowledged records/s, which it
// returns.
func reportLatency(b *testing.B, lat []time.Duration, perRequest int) float64 {
	if len(lat) == 0 {
		return 0
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	rate := float64(len(lat)*perRequest) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "records/s")
	return rate
}

// cpuStart is the CPU time used so far by this process and by the S3
// server.
type cpuStart struct {
	self  time.Duration
	s3    time.Duration
	s3pid int
}

func startCPU() cpuStart {
	c := cpuStart{self: cputime.Self(), s3pid: s3ServerPID()}
	if c.s3pid > 0 {
		c.s3, _ = processCPU(c.s3pid)
	}
	return c
}

// report adds cpu-s (this process: clients and server), rec/cpu-s, and, when
// the S3 server's process is known, s3-cpu-s and rec/all-cpu-s.
func (c cpuStart) report(b *testing.B, records int) {
	self := (cputime.Self() - c.self).Seconds()
	if self <= 0 {
		return
	}
	b.ReportMetric(self, "cpu-s")
	b.ReportMetric(float64(records)/self, "rec/cpu-s")
	if c.s3pid <= 0 {
		return
	}
	if now, ok := processCPU(c.s3pid); ok {
		s3 := (now - c.s3).Seconds()
		b.ReportMetric(s3, "s3-cpu-s")
		b.ReportMetric(float64(records)/(self+s3), "rec/all-cpu-s")
	}
}

// purge deletes a benchmark's objects, so that repeated runs do not fill
// the S3 server's disk.
func purge(b *testing.B, store storage.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	objs, err := store.List(ctx, "")
	if err != nil {
		b.Logf("purge: %v", err)
		return
	}
	keys := make(chan string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range keys {
				if err := store.Delete(ctx, k); err != nil {
					b.Logf("purge: %v", err)
				}
			}
		}()
	}
	for _, o := range objs {
		keys <- o.Key
	}
	close(keys)
	wg.Wait()
}
