package query_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/akosha/akosha/functions/ingest"
	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/schemas"
)

// BenchmarkForget is the forgetting benchmark of BENCHMARKS.md (issue 16):
// on the S3 server, a lake of AKOSHA_BENCH_RECORDS memories (default
// 1,000,000) over 10 systems (100,000 records each) and 30 days, one file
// per day as ingest's group commits and compaction leave a quiet day, one
// record in ten with an embedding; then, through the HTTP routes of one
// process (ingest and query, warm cache), the time to delete one record,
// the search latency right after it (first and second search), the time
// to delete one whole system, and the search latency after that. Run once
// (b.N is ignored); only with AKOSHA_BENCH_FORGET=1.
func BenchmarkForget(b *testing.B) {
	if os.Getenv("AKOSHA_BENCH_FORGET") == "" {
		b.Skip("set AKOSHA_BENCH_FORGET=1 to build a 1M-record lake and time deletes")
	}
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("AKOSHA_BENCH_RECORDS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	store := testenv.S3(b)
	start := time.Now()
	l, err := lake.Open(ctx, store)
	if err != nil {
		b.Fatal(err)
	}
	perDay := n / 30
	var bytes int64
	var probe schemas.Memory
	for d := 0; d < 30; d++ {
		recs := gen.Memories(uint64(d), perDay, 10, 1)
		for i := range recs {
			recs[i].CreatedAt = recs[i].CreatedAt.AddDate(0, 0, d)
			if i%10 != 0 {
				recs[i].Embedding = nil
			}
		}
		if d == 7 {
			probe = recs[10]
		}
		st, err := lake.StageMemories(ctx, store, recs)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := l.Commit(ctx, st); err != nil {
			b.Fatal(err)
		}
		for _, f := range st.Files {
			bytes += f.Size
		}
	}
	b.Logf("built a lake of %d memories (%.0f MB, 30 files) in %v", n, float64(bytes)/1e6, time.Since(start).Round(time.Second))

	p := startProcess(b, store, query.Config{CacheDir: b.TempDir(), CacheBytes: 8 << 30})
	search := func(what string) time.Duration {
		b.Helper()
		t0 := time.Now()
		st, _, body := do(b, "POST", p.url+"/v1/search", map[string]any{"vector": f64(probe.Embedding), "k": 10}, nil)
		took := time.Since(t0)
		if st != 200 {
			b.Fatalf("search %s: %d %s", what, st, body)
		}
		return took
	}
	t0 := time.Now()
	sqlQuery(b, p, "SELECT count(*) FROM memories", 0)
	b.Logf("warm-up: count(*) %v; search %v, %v", time.Since(t0).Round(time.Millisecond), search("cold"), search("warm"))

	del := func(method, path string, body any) (time.Duration, ingest.DeleteResponse) {
		b.Helper()
		t0 := time.Now()
		st, _, raw := do(b, method, p.url+path, body, nil)
		took := time.Since(t0)
		var resp ingest.DeleteResponse
		if st != 200 || json.Unmarshal(raw, &resp) != nil {
			b.Fatalf("%s %s: %d %s", method, path, st, raw)
		}
		return took, resp
	}
	victim := gen.Memories(3, perDay, 10, 1)[5]
	oneTook, one := del("DELETE", "/v1/memories/"+victim.SystemID+"/"+victim.ID, nil)
	s1, s2 := search("after one delete"), search("again")
	sysTook, sys := del("POST", "/v1/delete", map[string]any{"system_id": "sys-003", "all_records_of_system": true, "table": schemas.TableMemories})
	s3, s4 := search("after a system delete"), search("again")
	mt := one.Tables[schemas.TableMemories]
	st := sys.Tables[schemas.TableMemories]
	b.Logf("delete one record: %v (%d files rewritten); search right after: %v, then %v", oneTook.Round(time.Millisecond), mt.Files, s1.Round(time.Millisecond), s2.Round(time.Millisecond))
	b.Logf("delete one system (%d records): %v (%d files rewritten); search right after: %v, then %v", sys.Deleted, sysTook.Round(time.Millisecond), st.Files, s3.Round(time.Millisecond), s4.Round(time.Millisecond))
	b.ReportMetric(float64(oneTook.Milliseconds()), "ms/delete-one")
	b.ReportMetric(float64(sysTook.Milliseconds()), "ms/delete-system")
	b.ReportMetric(float64(s1.Milliseconds()), "ms/search-after-delete")
	fmt.Fprintln(os.Stderr, "forget benchmark done")
}
