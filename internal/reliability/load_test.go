package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/akosha/akosha/functions/ingest"
	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/jobs/compact"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/schemas"
)

// loadParams shape one load run.
type loadParams struct {
	duration     time.Duration
	systems      int
	queriers     int
	perBatch     int
	think        time.Duration // a system's pause between batches (±50%)
	queryThink   time.Duration // a querier's pause between requests
	compactEvery time.Duration // the compaction job beside (0: none)
}

// loadResult is what one run measured.
type loadResult struct {
	elapsed          time.Duration
	batches, records int64
	ingest           latencies
	queries          map[string]latencies
	failures         int64
	peakHeap         uint64        // runtime.MemStats.HeapInuse, sampled every 100 ms
	peakRSS          uint64        // /proc/self/statm resident set, sampled every 100 ms
	compactStarts    int64         // runs of the compaction beside, started
	compactions      int64         // and completed
	compactGroups    int64         // partitions merged, by completed runs and the one the end stopped
	compactTime      time.Duration // their time, in all
	liveRows         int64         // rows the log's statistics count at the end
}

// openFDs counts this process's open file descriptors.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// rss is this process's resident set size in bytes.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

func mib(n uint64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

// TestLoad runs both functions in this process on one lake on the real S3
// (as `akosha serve` does), with 100 simulated systems pushing batches of
// 20 records with 384-d embeddings while 16 clients query: SQL counts per
// system and over all, record lookups and vector searches, each answer
// checked. A compaction runs beside every 30 s, as its CronJob would. It
// records throughput, latency percentiles and peak memory, checks memory
// against the configured bounds, and checks that goroutines and open files
// return to their baseline once everything is shut down.
//
//	AKOSHA_LOAD_DURATION     sustained period (default 15s; `make load`: 3m)
//	AKOSHA_LOAD_SYSTEMS      pushing systems (100)
//	AKOSHA_LOAD_QUERIERS     querying clients (16)
//	AKOSHA_LOAD_THINK        a system's pause between batches (1s)
//	AKOSHA_LOAD_MAX_HEAP_MB  bound on the Go heap in use (1536)
//	AKOSHA_LOAD_MAX_RSS_MB   bound on the resident set, DuckDB included (4096: one pod's limit)
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test: not in -short")
	}
	p := loadParams{
		duration:   envDuration(t, "AKOSHA_LOAD_DURATION", 15*time.Second),
		systems:    envInt(t, "AKOSHA_LOAD_SYSTEMS", 100),
		queriers:   envInt(t, "AKOSHA_LOAD_QUERIERS", 16),
		perBatch:   20,
		think:      envDuration(t, "AKOSHA_LOAD_THINK", time.Second),
		queryThink: 50 * time.Millisecond,
	}
	// The compaction job beside runs every 30 s, or three times in a short run.
	p.compactEvery = min(30*time.Second, p.duration/3)
	// The stores get their own transport (runLoad), which the SDK refuses
	// to combine with a custom CA bundle; the test endpoint needs none.
	t.Setenv("AWS_CA_BUNDLE", "")
	maxHeap := uint64(envInt(t, "AKOSHA_LOAD_MAX_HEAP_MB", 1536)) << 20
	maxRSS := uint64(envInt(t, "AKOSHA_LOAD_MAX_RSS_MB", 4096)) << 20

	// A short warm-up cycle first, so that what a package starts once per
	// process (pools, caches) is in the baseline and only leaks are not.
	runLoad(t, loadParams{duration: 2 * time.Second, systems: 4, queriers: 2, perBatch: 5,
		think: 100 * time.Millisecond, queryThink: 20 * time.Millisecond, compactEvery: 500 * time.Millisecond})
	if t.Failed() {
		return
	}
	settle()
	baseG, baseFD := runtime.NumGoroutine(), openFDs()

	r := runLoad(t, p)

	// Everything was shut down: goroutines and descriptors come back.
	const slack = 5
	var nowG, nowFD int
	back := waitFor(30*time.Second, func() bool {
		settle()
		nowG, nowFD = runtime.NumGoroutine(), openFDs()
		return nowG <= baseG+slack && nowFD <= baseFD+slack
	})
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if !back {
		var b bytes.Buffer
		pprof.Lookup("goroutine").WriteTo(&b, 1)
		t.Errorf("after shutdown %d goroutines (baseline %d) and %d open files (baseline %d):\n%s\n%s",
			nowG, baseG, nowFD, baseFD, fdList(), truncate(b.Bytes()))
	}
	if r.peakHeap > maxHeap {
		t.Errorf("peak heap in use %s exceeds the bound %s", mib(r.peakHeap), mib(maxHeap))
	}
	if r.peakRSS > maxRSS {
		t.Errorf("peak resident set %s exceeds the bound %s", mib(r.peakRSS), mib(maxRSS))
	}

	fig := &figures{name: "load"}
	secs := r.elapsed.Seconds()
	fig.add("load", "%d systems pushing batches of %d records with 384-d embeddings (pause %v ±50%%), %d clients querying (pause %v), for %v",
		p.systems, p.perBatch, p.think, p.queriers, p.queryThink, p.duration)
	fig.add("ingest throughput", "%d batches, %d records acknowledged: %.1f batches/s, %.0f records/s", r.batches, r.records, float64(r.batches)/secs, float64(r.records)/secs)
	fig.add("ingest latency", "p50 %s, p99 %s, max %s", ms(r.ingest.percentile(0.5)), ms(r.ingest.percentile(0.99)), ms(r.ingest.percentile(1)))
	var total int
	for _, kind := range []string{"sql-system", "sql-all", "lookup", "search"} {
		l := r.queries[kind]
		total += len(l)
		fig.add("query "+kind, "%d answered (%.1f/s): p50 %s, p99 %s, max %s", len(l), float64(len(l))/secs,
			ms(l.percentile(0.5)), ms(l.percentile(0.99)), ms(l.percentile(1)))
	}
	fig.add("queries in all", "%d (%.1f/s), %d failed or wrong", total, float64(total)/secs, r.failures)
	perRun := "none completed"
	if r.compactions > 0 {
		perRun = fmt.Sprintf("%v a completed run", (r.compactTime / time.Duration(r.compactions)).Round(100*time.Millisecond))
	}
	fig.add("compaction beside", "%v after the last run ended: %d runs started, %d completed (%s), %d partitions merged",
		p.compactEvery, r.compactStarts, r.compactions, perRun, r.compactGroups)
	fig.add("records in the lake at the end", "%d (= acknowledged)", r.liveRows)
	fig.add("peak Go heap in use", "%s (bound %s); %s after shutdown", mib(r.peakHeap), mib(maxHeap), mib(after.HeapInuse))
	fig.add("peak resident set", "%s (bound %s)", mib(r.peakRSS), mib(maxRSS))
	fig.add("goroutines", "%d before, %d after shutdown", baseG, nowG)
	fig.add("open file descriptors", "%d before, %d after shutdown", baseFD, nowFD)
	fig.report(t)
}

// settle lets finalizers close what was dropped.
func settle() {
	runtime.GC()
	runtime.GC()
}

func fdList() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range ents {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		out = append(out, e.Name()+" -> "+target)
	}
	return strings.Join(out, "\n")
}

// loadSystem is what the queriers may ask about a system: its
// acknowledged ids and the last acknowledged record's embedding.
type loadSystem struct {
	mu      sync.Mutex
	id      string
	ids     []string
	lastID  string
	lastVec []float32
}

func runLoad(t *testing.T, p loadParams) *loadResult {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := testenv.S3Config(t)
	redisURL := testenv.RedisURL(t)
	// The store's own transport, so that its idle connections can be
	// closed for the leak check.
	s3Transport := http.DefaultTransport.(*http.Transport).Clone()
	s3Transport.MaxIdleConnsPerHost = 64
	cfg.HTTPClient = &http.Client{Transport: s3Transport}
	store := newS3(t, cfg)
	if err := store.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	l, err := lake.Open(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := auth.New(auth.Config{Disabled: true})
	ing, err := ingest.Open(l, a, ingest.Config{}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	q, err := query.Open(l, a, query.Config{CacheDir: t.TempDir(), RedisURL: redisURL, SQLTimeout: 2 * time.Minute,
		MemoryLimit: "1GB", Threads: 2}, prometheus.NewRegistry())
	if err != nil {
		ing.Stop(ctx)
		t.Fatal(err)
	}
	ingSrv := httptest.NewServer(http.HandlerFunc(ing.Handle))
	qSrv := httptest.NewServer(http.HandlerFunc(q.Handle))
	clientTransport := &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	hc := &http.Client{Transport: clientTransport, Timeout: 3 * time.Minute}

	r := &loadResult{queries: map[string]latencies{}}
	var mu sync.Mutex // guards r's slices
	var failures atomic.Int64
	fail := func(format string, args ...any) {
		if failures.Add(1) <= 10 {
			t.Errorf(format, args...)
		}
	}

	// Memory, sampled.
	var peakHeap, peakRSS atomic.Uint64
	samplerDone := make(chan struct{})
	stopSampler := make(chan struct{})
	go func() {
		defer close(samplerDone)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap.Load() {
				peakHeap.Store(ms.HeapInuse)
			}
			if r := rss(); r > peakRSS.Load() {
				peakRSS.Store(r)
			}
			select {
			case <-stopSampler:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()

	// The compaction job beside, on its own view of the lake, every
	// compactEvery after its last run ended; the end of the load stops a
	// run in progress as a job's deadline would.
	var compactStarts, compactions, compactGroups atomic.Int64
	var compactTime atomic.Int64 // nanoseconds in completed runs
	cctx, stopCompact := context.WithCancel(ctx)
	compactDone := make(chan struct{})
	go func() {
		defer close(compactDone)
		if p.compactEvery <= 0 {
			return
		}
		jl, err := lake.Open(ctx, store)
		if err != nil {
			fail("compaction: %v", err)
			return
		}
		for {
			select {
			case <-cctx.Done():
				return
			case <-time.After(p.compactEvery):
			}
			t0 := time.Now()
			compactStarts.Add(1)
			_, err := compact.Run(cctx, jl, compact.Options{Tables: []string{schemas.TableMemories}, Progress: func(ev compact.Event) {
				if ev.Phase == compact.PhaseGroup && ev.Result.Status == compact.StatusCompacted {
					compactGroups.Add(1)
				}
			}})
			if cctx.Err() != nil {
				return
			}
			if err != nil {
				fail("compaction: %v", err)
				continue
			}
			compactions.Add(1)
			compactTime.Add(int64(time.Since(t0)))
		}
	}()

	// Names unique to this run: Redis is shared with every other test, and
	// its result cache keys do not name the lake (see cache_test.go), so
	// the same statement at the same version on another lake would answer.
	run := testenv.RandomID()
	allSQL := "SELECT system_id, count(*) FROM memories WHERE system_id <> 'not-" + run + "' GROUP BY 1"
	systems := make([]*loadSystem, p.systems)
	for i := range systems {
		systems[i] = &loadSystem{id: fmt.Sprintf("load-%s-%03d", run, i)}
	}
	var acked atomic.Int64
	start := time.Now()
	deadline := start.Add(p.duration)
	var wg sync.WaitGroup
	for i, sys := range systems {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 5))
			// Spread the systems' first pushes over one pause.
			time.Sleep(time.Duration(rng.Int64N(int64(p.think) + 1)))
			for b := 0; time.Now().Before(deadline); b++ {
				recs := gen.Memories(uint64(i)<<32|uint64(b), p.perBatch, 1, 1)
				now := time.Now().UTC()
				for j := range recs {
					recs[j].SystemID = sys.id
					recs[j].CreatedAt = now.Add(-time.Duration(j+1) * time.Second)
				}
				body, _ := json.Marshal(map[string]any{"system_id": sys.id, "records": recs})
				bt := batch{key: fmt.Sprintf("%s-b%d", sys.id, b), body: body}
				t0 := time.Now()
				at := post(ctx, hc, ingSrv.URL+"/v1/memories", bt, nil)
				d := time.Since(t0)
				if !at.acked() || at.ans.Stored != len(recs) {
					fail("ingest %s: %s", bt.key, at)
				} else {
					mu.Lock()
					r.ingest = append(r.ingest, d)
					r.batches++
					r.records += int64(len(recs))
					mu.Unlock()
					acked.Add(int64(len(recs)))
					sys.mu.Lock()
					for _, m := range recs {
						sys.ids = append(sys.ids, m.ID)
					}
					sys.lastID, sys.lastVec = recs[0].ID, recs[0].Embedding
					sys.mu.Unlock()
				}
				pause := p.think/2 + time.Duration(rng.Int64N(int64(p.think)+1))
				time.Sleep(pause)
			}
		}()
	}

	for c := range p.queriers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 6))
			for time.Now().Before(deadline) {
				time.Sleep(p.queryThink)
				sys := systems[rng.IntN(len(systems))]
				sys.mu.Lock()
				n := len(sys.ids)
				id, lastID, vec := "", sys.lastID, sys.lastVec
				if n > 0 {
					id = sys.ids[rng.IntN(n)]
				}
				sys.mu.Unlock()
				if n == 0 {
					continue
				}
				var kind string
				t0 := time.Now()
				switch x := rng.IntN(10); {
				case x < 3:
					kind = "sql-system"
					status, ans, raw, err := postSQL(ctx, hc, qSrv.URL, "SELECT count(*) FROM memories WHERE system_id = '"+sys.id+"'", nil)
					if err != nil || status != http.StatusOK {
						fail("%s: %d %v %s", kind, status, err, truncate(raw))
						continue
					}
					if got := num(ans.Rows[0][0]); got < int64(n) {
						fail("%s %s: %d records, %d acknowledged before", kind, sys.id, got, n)
					}
				case x < 4:
					kind = "sql-all"
					before := acked.Load()
					status, ans, raw, err := postSQL(ctx, hc, qSrv.URL, allSQL, nil)
					if err != nil || status != http.StatusOK {
						fail("%s: %d %v %s", kind, status, err, truncate(raw))
						continue
					}
					var sum int64
					for _, row := range ans.Rows {
						sum += num(row[1])
					}
					if sum < before {
						fail("%s: %d records, %d acknowledged before", kind, sum, before)
					}
				case x < 7:
					kind = "lookup"
					resp, err := hc.Get(qSrv.URL + "/v1/memories/" + sys.id + "/" + url.PathEscape(id))
					if err != nil {
						fail("%s: %v", kind, err)
						continue
					}
					raw, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					var rec map[string]any
					if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &rec) != nil || rec["id"] != id {
						fail("%s %s/%s: %d %s", kind, sys.id, id, resp.StatusCode, truncate(raw))
						continue
					}
				default:
					kind = "search"
					body, _ := json.Marshal(map[string]any{"vector": vec, "k": 10, "filter": map[string]any{"system_id": []string{sys.id}}})
					resp, err := hc.Post(qSrv.URL+"/v1/search", "application/json", bytes.NewReader(body))
					if err != nil {
						fail("%s: %v", kind, err)
						continue
					}
					raw, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					var ans struct {
						Results []struct {
							ID    string  `json:"id"`
							Score float64 `json:"score"`
						} `json:"results"`
					}
					if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &ans) != nil {
						fail("%s: %d %s", kind, resp.StatusCode, truncate(raw))
						continue
					}
					if len(ans.Results) == 0 || ans.Results[0].ID != lastID || ans.Results[0].Score < 0.999 {
						fail("%s for %s/%s's own vector: %s", kind, sys.id, lastID, truncate(raw))
						continue
					}
				}
				d := time.Since(t0)
				mu.Lock()
				r.queries[kind] = append(r.queries[kind], d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	r.elapsed = time.Since(start)

	// Every acknowledged record is in the lake.
	snap, err := delta.NewTable(store, schemas.TableMemories).Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for f := range snap.AllFiles() {
		st, err := f.ParsedStats()
		if err != nil {
			t.Fatal(err)
		}
		r.liveRows += st.NumRecords
	}
	if r.liveRows != acked.Load() {
		t.Errorf("the lake holds %d records, %d were acknowledged", r.liveRows, acked.Load())
	}

	// Shut everything down, as SIGTERM would.
	stopCompact()
	<-compactDone
	ingSrv.Close()
	qSrv.Close()
	if err := ing.Stop(ctx); err != nil {
		t.Errorf("stop ingest: %v", err)
	}
	if err := q.Stop(ctx); err != nil {
		t.Errorf("stop query: %v", err)
	}
	close(stopSampler)
	<-samplerDone
	clientTransport.CloseIdleConnections()
	s3Transport.CloseIdleConnections()
	r.peakHeap, r.peakRSS = peakHeap.Load(), peakRSS.Load()
	r.failures = failures.Load()
	r.compactStarts = compactStarts.Load()
	r.compactions = compactions.Load()
	r.compactGroups = compactGroups.Load()
	r.compactTime = time.Duration(compactTime.Load())
	return r
}
