package reliability

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/akosha/akosha/functions/ingest"
	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/faultproxy"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/jobs/compact"
	"github.com/akosha/akosha/jobs/vacuum"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// newS3 opens a store on cfg; each "process" of a test gets its own client.
func newS3(t testing.TB, cfg storage.S3Config) *storage.S3 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := storage.NewS3(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openRetrying opens a lake on a store that may be failing on purpose.
func openRetrying(t testing.TB, s storage.Store) *lake.Lake {
	t.Helper()
	var last error
	for range 50 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		l, err := lake.Open(ctx, s)
		cancel()
		if err == nil {
			return l
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("lake did not open in 50 tries: %v", last)
	return nil
}

// faultLedger is what the clients know: every batch sent, the answer that
// acknowledged it, and the batches given up without one.
type faultLedger struct {
	attempted atomic.Int64 // records of batches whose first send began
	acked     atomic.Int64 // records of acknowledged batches

	mu        sync.Mutex
	batches   map[string]batch
	answers   map[string]ingestAnswer // the acknowledging answer
	abandoned map[string]bool         // given up unacknowledged
	ackedIDs  []string                // for lookups

	attempts, lost, dupAnswers atomic.Int64
	byStatus                   sync.Map // status -> *atomic.Int64 (5xx answers)
}

func (l *faultLedger) count(status int) {
	v, _ := l.byStatus.LoadOrStore(status, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (l *faultLedger) statuses() string {
	var parts []string
	l.byStatus.Range(func(k, v any) bool {
		parts = append(parts, fmt.Sprintf("%d: %d", k, v.(*atomic.Int64).Load()))
		return true
	})
	sort.Strings(parts)
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// TestHTTPUnderS3Faults runs the real ingest and query functions over HTTP,
// a second query process and a compaction loop, all on one lake whose S3
// traffic goes through faultproxy at 10% faults of every kind. Clients retry
// unacknowledged batches with their Idempotency-Key; some give up after one
// impatient try. Then the faults stop, compaction and vacuum run again, and
// the lake is audited from the store itself.
func TestHTTPUnderS3Faults(t *testing.T) {
	if testing.Short() {
		t.Skip("fault run: not in -short")
	}
	const rate, stormRate, clients, perBatch = 0.10, 1.0, 8, 8
	batches := envInt(t, "AKOSHA_FAULT_BATCHES", 40)
	cfg := testenv.S3Config(t)
	if cfg.Endpoint == "" {
		t.Skip("fault injection needs an S3 endpoint to stand in front of")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clean := newS3(t, cfg)
	if err := clean.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	px, err := faultproxy.New(cfg.Endpoint, faultproxy.Uniform(rate), 8)
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	faulty := cfg
	faulty.Endpoint = px.URL
	start := time.Now()

	// The functions' process: ingest and query on one lake, as in `akosha
	// serve`, so an acknowledged record is visible to the next query.
	fnLake := openRetrying(t, newS3(t, faulty))
	a, err := auth.New(auth.Config{Disabled: true})
	if err != nil {
		t.Fatal(err)
	}
	ing, err := ingest.Open(fnLake, a, ingest.Config{Timeout: 20 * time.Second}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	qcfg := query.Config{SQLTimeout: time.Minute, MemoryLimit: "512MB", Threads: 2}
	qcfg.CacheDir = t.TempDir()
	q, err := query.Open(fnLake, a, qcfg, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ingSrv := httptest.NewServer(http.HandlerFunc(ing.Handle))
	qSrv := httptest.NewServer(http.HandlerFunc(q.Handle))
	defer func() {
		ingSrv.Close()
		qSrv.Close()
		ing.Stop(context.Background())
		q.Stop(context.Background())
	}()
	// Another query process, with its own S3 client and lake, polling.
	otherLake := openRetrying(t, newS3(t, faulty))
	qcfg.CacheDir = t.TempDir()
	q2, err := query.Open(otherLake, a, qcfg, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	q2Srv := httptest.NewServer(http.HandlerFunc(q2.Handle))
	defer func() {
		q2Srv.Close()
		q2.Stop(context.Background())
	}()
	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	go otherLake.Poll(pollCtx, 300*time.Millisecond, nil)

	led := &faultLedger{batches: map[string]batch{}, answers: map[string]ingestAnswer{}, abandoned: map[string]bool{}}
	stop := make(chan struct{})
	var bg sync.WaitGroup

	// Queries while ingest runs: correct counts or a clean 5xx, never a
	// wrong answer.
	var sqlOK, sqlFailed, lookOK, lookFailed atomic.Int64
	const countSQL = "SELECT count(*), count(DISTINCT system_id || '/' || id) FROM memories"
	checker := func(name, base string, readYourWrites bool) {
		defer bg.Done()
		hc := &http.Client{Timeout: 2 * time.Minute}
		var last int64
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			before := led.acked.Load()
			status, ans, raw, err := postSQL(ctx, hc, base, countSQL, nil)
			after := led.attempted.Load()
			switch {
			case err != nil:
				t.Errorf("%s: %v", name, err)
				return
			case status == http.StatusOK:
				n, d := num(ans.Rows[0][0]), num(ans.Rows[0][1])
				switch {
				case n != d:
					t.Errorf("%s: %d rows but %d distinct records", name, n, d)
				case readYourWrites && n < before:
					t.Errorf("%s: %d records visible, %d acknowledged before the query (version %d)", name, n, before, ans.Version)
				case n > after:
					t.Errorf("%s: %d records visible, only %d ever sent", name, n, after)
				case n < last:
					t.Errorf("%s: the count went back from %d to %d", name, last, n)
				}
				last = n
				sqlOK.Add(1)
			case status >= 500:
				if err := checkErrorBody(raw); err != nil {
					t.Errorf("%s: %d with %v", name, status, err)
				}
				sqlFailed.Add(1)
			default:
				t.Errorf("%s: %d %s", name, status, truncate(raw))
			}
		}
	}
	bg.Add(2)
	go checker("query (ingest's process)", qSrv.URL, true)
	go checker("query (another process)", q2Srv.URL, false)

	// Lookups of acknowledged records: found, or a clean 5xx.
	bg.Add(1)
	go func() {
		defer bg.Done()
		hc := &http.Client{Timeout: 2 * time.Minute}
		rng := rand.New(rand.NewPCG(3, 4))
		for {
			select {
			case <-stop:
				return
			case <-time.After(150 * time.Millisecond):
			}
			led.mu.Lock()
			n := len(led.ackedIDs)
			id := ""
			if n > 0 {
				id = led.ackedIDs[rng.IntN(n)]
			}
			led.mu.Unlock()
			if id == "" {
				continue
			}
			sys, rid, _ := strings.Cut(id, "/")
			resp, err := hc.Get(qSrv.URL + "/v1/memories/" + url.PathEscape(sys) + "/" + url.PathEscape(rid))
			if err != nil {
				t.Errorf("lookup %s: %v", id, err)
				return
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusOK:
				var rec map[string]any
				if json.Unmarshal(raw, &rec) != nil || rec["id"] != rid {
					t.Errorf("lookup %s: %s", id, truncate(raw))
				}
				lookOK.Add(1)
			case resp.StatusCode >= 500:
				if err := checkErrorBody(raw); err != nil {
					t.Errorf("lookup %s: %d with %v", id, resp.StatusCode, err)
				}
				lookFailed.Add(1)
			default:
				t.Errorf("lookup of acknowledged %s: %d %s", id, resp.StatusCode, truncate(raw))
			}
		}
	}()

	// Compaction in a loop, in its own process: it commits or fails
	// cleanly.
	jobLake := openRetrying(t, newS3(t, faulty))
	var runs, runsOK, runsPartial, runsFailed, groupsCompacted, groupsSkipped, groupsFailed atomic.Int64
	var errMu sync.Mutex
	var runErrs []string
	bg.Add(1)
	go func() {
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
			sum, err := compact.Run(ctx, jobLake, compact.Options{Tables: []string{schemas.TableMemories}})
			runs.Add(1)
			switch {
			case err == nil:
				runsOK.Add(1)
			case errors.Is(err, compact.ErrGroupsFailed):
				runsPartial.Add(1)
			default:
				runsFailed.Add(1)
				errMu.Lock()
				runErrs = append(runErrs, err.Error())
				errMu.Unlock()
			}
			if sum != nil {
				tot := sum.Totals()
				groupsCompacted.Add(int64(tot.Compacted))
				groupsSkipped.Add(int64(tot.Skipped))
				groupsFailed.Add(int64(tot.Failed))
			}
		}
	}()

	// The fault schedule: 10% throughout, and every 3 s an outage of 1 s in
	// which every request meets a fault (five in six fail, one in six is
	// delayed). The SDK's own retries absorb most single faults at 10%; the
	// outages make commits fail outright, so that clients also see 5xx
	// answers and retry them.
	var phaseMu sync.Mutex
	var base, storm faultproxy.Counts
	bg.Add(1)
	go func() {
		defer bg.Done()
		last := px.Counts()
		settle := func(into *faultproxy.Counts) {
			now := px.Counts()
			phaseMu.Lock()
			into.Requests += now.Requests - last.Requests
			into.Error500 += now.Error500 - last.Error500
			into.SlowDown503 += now.SlowDown503 - last.SlowDown503
			into.ResetBefore += now.ResetBefore - last.ResetBefore
			into.ResetAfter += now.ResetAfter - last.ResetAfter
			into.Truncate += now.Truncate - last.Truncate
			into.Delay += now.Delay - last.Delay
			phaseMu.Unlock()
			last = now
		}
		for {
			select {
			case <-stop:
				settle(&base)
				return
			case <-time.After(2 * time.Second):
			}
			settle(&base)
			px.SetRates(faultproxy.Uniform(stormRate))
			select {
			case <-stop:
			case <-time.After(time.Second):
			}
			px.SetRates(faultproxy.Uniform(rate))
			settle(&storm)
		}
	}()

	// The clients. Every eighth batch is sent once with a short deadline
	// and given up if unacknowledged; every fourth starts with such an
	// impatient try and is then retried patiently; the rest are retried
	// patiently from the start. Retries reuse key and body.
	var cw sync.WaitGroup
	for c := range clients {
		cw.Add(1)
		go func() {
			defer cw.Done()
			hc := &http.Client{Timeout: time.Minute}
			rng := rand.New(rand.NewPCG(uint64(c), 77))
			for b := range batches {
				time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)
				key := fmt.Sprintf("faults-c%d-b%d", c, b)
				bt := newBatch(key, fmt.Sprintf("sys-%d", c%4), uint64(1_000_000+c*10_000+b), perBatch, false, time.Now())
				abandon, impatient := b%8 == 7, b%4 == 1
				led.mu.Lock()
				led.batches[key] = bt
				led.mu.Unlock()
				led.attempted.Add(int64(len(bt.ids)))
				for try := 0; ; try++ {
					timeout := time.Minute
					if try == 0 && (abandon || impatient) {
						timeout = time.Duration(2+rng.IntN(80)) * time.Millisecond
					}
					actx, acancel := context.WithTimeout(ctx, timeout)
					at := post(actx, hc, ingSrv.URL+"/v1/memories", bt, nil)
					acancel()
					led.attempts.Add(1)
					if at.acked() {
						if at.ans.Status != "completed" || at.ans.Stored != len(bt.ids) {
							t.Errorf("%s: acknowledged as %+v", key, at.ans)
						}
						if at.ans.Duplicate {
							led.dupAnswers.Add(1)
						}
						led.mu.Lock()
						led.answers[key] = at.ans
						led.ackedIDs = append(led.ackedIDs, bt.ids...)
						led.mu.Unlock()
						led.acked.Add(int64(len(bt.ids)))
						break
					}
					if !at.retryable() {
						t.Errorf("%s: %s", key, at)
						break
					}
					if at.err != nil {
						led.lost.Add(1)
					} else {
						led.count(at.status)
						if err := checkErrorBody(at.raw); err != nil {
							t.Errorf("%s: %d with %v", key, at.status, err)
						}
					}
					if abandon {
						led.mu.Lock()
						led.abandoned[key] = true
						led.mu.Unlock()
						break
					}
					if try >= 60 {
						t.Errorf("%s: not acknowledged after %d tries: %s", key, try+1, at)
						break
					}
					time.Sleep(time.Duration(20<<min(try, 5)+rng.IntN(20)) * time.Millisecond)
				}
			}
		}()
	}
	cw.Wait()
	// Requests whose client gave up may still be in a group commit: drain
	// them (Stop waits for the commits in flight), so that nothing lands
	// after the audit below.
	ingSrv.Close()
	if err := ing.Stop(ctx); err != nil {
		t.Errorf("stop ingest: %v", err)
	}
	close(stop)
	bg.Wait()
	during := px.Counts()
	ingestTime := time.Since(start)

	// Faults stop. The function's process answers the exact count; the
	// other process catches up.
	px.SetRates(faultproxy.Rates{})
	var expected int64
	// Whether a given-up batch landed is known only from the log.
	landedAbandoned, lostAbandoned := 0, 0
	hc := &http.Client{Timeout: 2 * time.Minute}
	// finalCount waits (a minute at most) for a query function to count
	// want records, and returns its last count.
	finalCount := func(base string, want int64) int64 {
		var n int64 = -1
		waitFor(time.Minute, func() bool {
			status, ans, raw, err := postSQL(ctx, hc, base, countSQL, nil)
			if err != nil || status != http.StatusOK {
				t.Logf("final count on %s: %d %v %s", base, status, err, truncate(raw))
				return false
			}
			n = num(ans.Rows[0][0])
			return n == want
		})
		return n
	}

	// Jobs resume: the compaction that faults interrupted completes, and a
	// vacuum deletes what failed attempts left behind (staged files never
	// committed, outputs of failed merges).
	sum, err := compact.Run(ctx, jobLake, compact.Options{Tables: []string{schemas.TableMemories}})
	if err != nil {
		t.Fatalf("compaction after the faults stopped: %v", err)
	}
	resumed := sum.Totals()
	tbl, _ := jobLake.Table(schemas.TableMemories)
	snap, err := tbl.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if groups, _ := compact.PlanSnapshot(snap, compact.PlanOptions{}); len(groups) != 0 {
		t.Errorf("after the resumed compaction %d groups are still to merge", len(groups))
	}

	// The audit, from the store itself.
	au, err := auditMemories(ctx, clean)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range au.Missing {
		t.Errorf("live file: %s", m)
	}
	for appID, vs := range au.Txns {
		if len(vs) > 1 {
			t.Errorf("txn %s committed in versions %v", appID, vs)
		}
	}
	wantIDs := map[string]bool{}
	for key, bt := range led.batches {
		vs := au.Txns[ingestAppID(key)]
		ans, acked := led.answers[key]
		switch {
		case acked && len(vs) != 1:
			t.Errorf("%s was acknowledged (%+v) but the log holds it %d times", key, ans, len(vs))
			continue
		case acked && !ans.Duplicate && ans.Version != vs[0]:
			t.Errorf("%s was acknowledged at version %d but committed at %d", key, ans.Version, vs[0])
		case acked && ans.Duplicate && ans.Version < vs[0]:
			t.Errorf("%s was acknowledged as a duplicate of version %d but committed at %d", key, ans.Version, vs[0])
		case !acked && !led.abandoned[key]:
			t.Errorf("%s was neither acknowledged nor given up", key)
			continue
		}
		if !acked {
			if len(vs) == 0 {
				lostAbandoned++
				continue
			}
			landedAbandoned++
		}
		expected += int64(len(bt.ids))
		for _, id := range bt.ids {
			wantIDs[id] = true
			if n := au.IDs[id]; n != 1 {
				t.Errorf("%s (batch %s, acknowledged %v) is in the lake %d times", id, key, acked, n)
			}
		}
	}
	for id, n := range au.IDs {
		if !wantIDs[id] {
			t.Errorf("%s is in the lake (%d rows) but was never acknowledged nor sent in a batch that landed", id, n)
		}
	}
	if au.IngestedRows != expected || au.LiveRows != expected || int64(len(au.IDs)) != expected {
		t.Errorf("log wrote %d rows, live files hold %d rows of %d ids; want %d", au.IngestedRows, au.LiveRows, len(au.IDs), expected)
	}
	if n := finalCount(qSrv.URL, expected); n != expected {
		t.Errorf("ingest's process counts %d records, want %d", n, expected)
	}
	if n := finalCount(q2Srv.URL, expected); n != expected {
		t.Errorf("the other query process counts %d records a minute after the faults stopped, want %d", n, expected)
	}
	stopPoll()

	// Vacuum on the quiet lake, then nothing but live files remains.
	time.Sleep(20 * time.Millisecond)
	vsum, err := vacuum.Run(ctx, jobLake, vacuum.Options{Tables: []string{schemas.TableMemories}, Grace: time.Millisecond, OrphanGrace: time.Millisecond})
	if err != nil {
		t.Fatalf("vacuum after the faults stopped: %v", err)
	}
	vacuumed, _, _ := vsum.Total()
	objs, err := clean.List(ctx, schemas.TableMemories+"/")
	if err != nil {
		t.Fatal(err)
	}
	dataObjects := 0
	for _, o := range objs {
		if !strings.Contains(o.Key, "/_delta_log/") && strings.HasSuffix(o.Key, ".parquet") {
			dataObjects++
		}
	}
	if dataObjects != au.LiveFiles {
		t.Errorf("after vacuum %d data objects remain, %d are live", dataObjects, au.LiveFiles)
	}
	// A fresh process reads the exact count after vacuum.
	fresh := openRetrying(t, clean)
	qcfg.CacheDir = t.TempDir()
	q3, err := query.Open(fresh, a, qcfg, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer q3.Stop(context.Background())
	res, err := q3.Query(ctx, countSQL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n, d := num(res.Rows[0][0]), num(res.Rows[0][1]); n != expected || d != expected {
		t.Errorf("a fresh query process counts %d rows, %d distinct; want %d", n, d, expected)
	}

	ackedBatches := len(led.answers)
	total := px.Counts()
	fig := &figures{name: "S3 faults under the HTTP functions"}
	fig.add("fault rate", "%.0f%% of S3 requests, spread evenly over the six kinds; while ingest ran, an outage of 1 s every 3 s (%.0f%%)", rate*100, stormRate*100)
	fig.add("S3 requests through the proxy", "%d (%d while ingest ran, %s)", total.Requests, during.Requests, ingestTime.Round(time.Second))
	kinds := func(c faultproxy.Counts) string {
		return fmt.Sprintf("%d of %d requests: 500 %d, 503 SlowDown %d, reset before %d, reset after %d, truncated %d, delayed %d",
			c.Faults(), c.Requests, c.Error500, c.SlowDown503, c.ResetBefore, c.ResetAfter, c.Truncate, c.Delay)
	}
	fig.add("faults injected at 10%", "%s", kinds(base))
	fig.add("faults injected in the outages", "%s", kinds(storm))
	fig.add("faults injected in all", "%s", kinds(total))
	fig.add("batches sent", "%d by %d clients, %d records each", len(led.batches), clients, perBatch)
	fig.add("ingest attempts", "%d: %d without an answer (client deadline), 5xx answers %s", led.attempts.Load(), led.lost.Load(), led.statuses())
	fig.add("batches acknowledged", "%d (%d answered as duplicates: an earlier attempt had landed)", ackedBatches, led.dupAnswers.Load())
	fig.add("batches given up unacknowledged", "%d: %d had landed (once each), %d had not", len(led.abandoned), landedAbandoned, lostAbandoned)
	fig.add("records checked", "%d expected, %d in live files, %d written by the log, 0 lost, 0 doubled", expected, au.LiveRows, au.IngestedRows)
	fig.add("SQL counts during faults", "%d correct (2 processes), %d clean 5xx, 0 wrong", sqlOK.Load(), sqlFailed.Load())
	fig.add("lookups of acknowledged records", "%d found, %d clean 5xx, 0 missing", lookOK.Load(), lookFailed.Load())
	fig.add("compaction runs under faults", "%d: %d complete, %d with failed groups, %d failed; groups %d compacted, %d skipped, %d failed",
		runs.Load(), runsOK.Load(), runsPartial.Load(), runsFailed.Load(), groupsCompacted.Load(), groupsSkipped.Load(), groupsFailed.Load())
	cut, other := 0, ""
	for _, e := range runErrs {
		if strings.Contains(e, "unexpected EOF") || strings.Contains(e, "connection reset") {
			cut++
		} else if other == "" {
			other = e
		}
	}
	why := fmt.Sprintf("%d of %d on a response body cut short (truncated or reset: the readers do not retry those, see RELIABILITY.md)", cut, len(runErrs))
	if other != "" {
		why += "; another: " + truncate([]byte(other))
	}
	fig.add("why compaction runs failed", "%s", why)
	fig.add("after the faults stopped", "compaction resumed: %d groups compacted, none left; vacuum deleted %d objects; %d data objects = %d live files",
		resumed.Compacted, vacuumed, dataObjects, au.LiveFiles)
	fig.report(t)
	if total.Faults() == 0 {
		t.Error("no fault was injected")
	}
}
