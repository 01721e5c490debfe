package query_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/akosha/akosha/functions/ingest"
	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// countingStore records every GET, so tests can tell which objects a
// statement read from the lake.
type countingStore struct {
	storage.Store
	mu   sync.Mutex
	gets map[string]int
}

func (c *countingStore) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	c.mu.Lock()
	if c.gets == nil {
		c.gets = map[string]int{}
	}
	c.gets[key]++
	c.mu.Unlock()
	return c.Store.Get(ctx, key, off, n)
}

func (c *countingStore) reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.gets
	c.gets = map[string]int{}
	return g
}

// process is one akosha serve: ingest and query on one lake.
type process struct {
	url     string
	handler http.Handler
	lake    *lake.Lake
	query   *query.Function
	store   *countingStore
}

func ctxT(t testing.TB) context.Context {
	return testenv.Context(t)
}

func startProcess(t testing.TB, s storage.Store, cfg query.Config) *process {
	t.Helper()
	cs := &countingStore{Store: s}
	l, err := lake.Open(ctxT(t), cs)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := auth.New(auth.Config{Disabled: true})
	reg := prometheus.NewRegistry()
	in, err := ingest.Open(l, a, ingest.Config{}, reg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = t.TempDir()
	}
	q, err := query.Open(l, a, cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, r := range ingest.Routes() {
		mux.HandleFunc(r, in.Handle)
	}
	for _, r := range query.Routes() {
		mux.HandleFunc(r, q.Handle)
	}
	ts := httptest.NewServer(mux)
	pctx, cancel := context.WithCancel(context.Background())
	// As often as serve polls: commits of this process are seen at once,
	// and each idle poll is a few GETs per table.
	go l.Poll(pctx, time.Second, nil)
	t.Cleanup(func() {
		cancel()
		ts.Close()
		in.Stop(context.Background())
		q.Stop(context.Background())
	})
	return &process{url: ts.URL, handler: mux, lake: l, query: q, store: cs}
}

func do(t testing.TB, method, url string, body any, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func push(t testing.TB, p *process, recs []schemas.Memory) {
	t.Helper()
	st, _, body := do(t, "POST", p.url+"/v1/memories", map[string]any{"records": recs}, nil)
	if st != 200 {
		t.Fatalf("ingest: %d %s", st, body)
	}
}

type sqlAnswer struct {
	Columns []struct{ Name, Type string } `json:"columns"`
	Rows    [][]any                       `json:"rows"`
	Count   int                           `json:"row_count"`
	Trunc   bool                          `json:"truncated"`
	Version int64                         `json:"version"`
}

func sqlQuery(t testing.TB, p *process, stmt string, limit int) (sqlAnswer, string) {
	t.Helper()
	st, hdr, body := do(t, "POST", p.url+"/v1/sql", map[string]any{"sql": stmt, "limit": limit}, nil)
	if st != 200 {
		t.Fatalf("%s: %d %s", stmt, st, body)
	}
	var a sqlAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("%s: %v: %s", stmt, err, body)
	}
	return a, hdr.Get("X-Akosha-Cache")
}

func records(systems, days, n int, seed uint64) []schemas.Memory {
	recs := gen.Memories(seed, n, systems, days)
	return recs
}

func TestSQLTypesAndFormats(t *testing.T) {
	p := startProcess(t, testenv.S3(t), query.Config{})
	recs := records(2, 2, 40, 1)
	push(t, p, recs)
	a, cache := sqlQuery(t, p, `SELECT system_id, id, created_at, day, tier, embedding, tags, metadata, importance
		FROM memories ORDER BY id LIMIT 3`, 0)
	if cache != "miss" || a.Count != 3 {
		t.Fatalf("count %d cache %s", a.Count, cache)
	}
	types := map[string]string{}
	for _, c := range a.Columns {
		types[c.Name] = c.Type
	}
	want := map[string]string{"created_at": "TIMESTAMP WITH TIME ZONE", "day": "DATE", "embedding": "FLOAT[384]",
		"tags": "VARCHAR[]", "metadata": "JSON", "tier": "VARCHAR", "system_id": "VARCHAR", "importance": "DOUBLE"}
	for k, v := range want {
		if types[k] != v {
			t.Errorf("column %s is %s, want %s", k, types[k], v)
		}
	}
	row := a.Rows[0]
	if ts, _ := row[2].(string); !strings.HasSuffix(ts, "Z") {
		t.Errorf("created_at %v is not RFC 3339 UTC", row[2])
	}
	if d, _ := row[3].(string); len(d) != 10 {
		t.Errorf("day %v", row[3])
	}
	if emb, _ := row[5].([]any); len(emb) != 384 {
		t.Errorf("embedding has %d values", len(emb))
	}
	if m, _ := row[7].(map[string]any); m["source"] != "gen" {
		t.Errorf("metadata %v", row[7])
	}
	// The same statement again is an L1 hit; reformatted, too.
	if _, cache := sqlQuery(t, p, `SELECT system_id, id, created_at, day, tier, embedding, tags, metadata, importance
		FROM memories   ORDER BY id LIMIT 3;`, 0); cache != "l1" {
		t.Errorf("second run: cache %s, want l1", cache)
	}
	// Other formats.
	for accept, check := range map[string]func([]byte) error{
		"text/csv": func(b []byte) error {
			rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
			if err == nil && len(rows) != 41 {
				err = fmt.Errorf("%d csv rows", len(rows))
			}
			return err
		},
		"application/x-ndjson": func(b []byte) error {
			if n := bytes.Count(b, []byte("\n")); n != 40 {
				return fmt.Errorf("%d ndjson lines", n)
			}
			return nil
		},
		"application/vnd.apache.parquet": func(b []byte) error {
			if !bytes.HasPrefix(b, []byte("PAR1")) {
				return fmt.Errorf("not parquet")
			}
			return nil
		},
	} {
		st, hdr, body := do(t, "POST", p.url+"/v1/sql", map[string]any{"sql": "SELECT id, content FROM memories"}, map[string]string{"Accept": accept})
		if st != 200 || hdr.Get("Content-Type") != accept {
			t.Errorf("%s: %d %s", accept, st, hdr.Get("Content-Type"))
			continue
		}
		if err := check(body); err != nil {
			t.Errorf("%s: %v", accept, err)
		}
	}
}

func TestLimitAndTruncation(t *testing.T) {
	p := startProcess(t, testenv.S3(t), query.Config{MaxRows: 25})
	push(t, p, records(1, 1, 40, 2))
	a, _ := sqlQuery(t, p, `SELECT id FROM memories`, 10)
	if a.Count != 10 || !a.Trunc {
		t.Errorf("limit 10: %d rows, truncated %v", a.Count, a.Trunc)
	}
	a, _ = sqlQuery(t, p, `SELECT id FROM memories`, 1000) // capped by MaxRows
	if a.Count != 25 || !a.Trunc {
		t.Errorf("limit capped: %d rows, truncated %v", a.Count, a.Trunc)
	}
	a, _ = sqlQuery(t, p, `SELECT count(*) FROM memories`, 0)
	if a.Count != 1 || a.Trunc || a.Rows[0][0].(float64) != 40 {
		t.Errorf("count: %+v", a)
	}
}

// Read-your-writes in one process; other processes within about a second.
func TestSnapshotFollowsCommits(t *testing.T) {
	s := testenv.S3(t)
	p1 := startProcess(t, s, query.Config{})
	p2 := startProcess(t, s, query.Config{})
	for i := 1; i <= 3; i++ {
		push(t, p1, records(1, 1, 5, uint64(10+i)))
		if a, _ := sqlQuery(t, p1, `SELECT count(*) FROM memories`, 0); a.Rows[0][0].(float64) != float64(5*i) {
			t.Fatalf("writer process sees %v records, want %d", a.Rows[0][0], 5*i)
		}
		deadline := time.Now().Add(3 * time.Second)
		for {
			a, _ := sqlQuery(t, p2, `SELECT count(*) FROM memories`, 0)
			if a.Rows[0][0].(float64) == float64(5*i) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("other process still sees %v records after 3 s", a.Rows[0][0])
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// A re-sent record shows once, as its latest version; only files holding a
// re-sent key are read through the dedup window.
func TestLatestVersionWins(t *testing.T) {
	p := startProcess(t, testenv.S3(t), query.Config{})
	recs := records(2, 1, 20, 3)
	push(t, p, recs)
	again := []schemas.Memory{recs[4], recs[7]}
	again[0].Content = "second version"
	again[1].Content = "second version"
	again[1].CreatedAt = again[1].CreatedAt.Add(48 * time.Hour) // moves to another day
	push(t, p, again)
	a, _ := sqlQuery(t, p, `SELECT count(*), count(DISTINCT (system_id, id)) FROM memories`, 0)
	if a.Rows[0][0].(float64) != 20 || a.Rows[0][1].(float64) != 20 {
		t.Fatalf("rows %v, distinct keys %v; want 20 and 20", a.Rows[0][0], a.Rows[0][1])
	}
	for _, r := range again {
		a, _ := sqlQuery(t, p, fmt.Sprintf(`SELECT content FROM memories WHERE system_id = '%s' AND id = '%s'`, r.SystemID, r.ID), 0)
		if a.Count != 1 || a.Rows[0][0] != "second version" {
			t.Errorf("%s: %v", r.ID, a.Rows)
		}
		st, _, body := do(t, "GET", p.url+"/v1/memories/"+r.SystemID+"/"+r.ID, nil, nil)
		var rec map[string]any
		json.Unmarshal(body, &rec)
		if st != 200 || rec["content"] != "second version" {
			t.Errorf("GET %s: %d %s", r.ID, st, body)
		}
	}
	// Pruned to the old day, the moved record is gone (its latest version is elsewhere).
	day := schemas.Day(recs[7].CreatedAt)
	a, _ = sqlQuery(t, p, fmt.Sprintf(`SELECT count(*) FROM memories WHERE system_id = '%s' AND day = '%s' AND id = '%s'`, recs[7].SystemID, day, recs[7].ID), 0)
	if a.Rows[0][0].(float64) != 0 {
		t.Errorf("the old version of a moved record is still visible on its old day")
	}
}

// A statement over one system and one day fetches only that partition's files.
func TestPartitionPruningReadsOnlyThePartition(t *testing.T) {
	s := testenv.S3(t)
	p := startProcess(t, s, query.Config{})
	recs := records(3, 3, 300, 4)
	push(t, p, recs)
	// Let the warmer index every file's keys first: that is background work.
	tbl, _ := p.lake.Table(schemas.TableMemories)
	snap := tbl.Cached()
	deadline := time.Now().Add(10 * time.Second)
	for !p.query.KeysIndexed(schemas.TableMemories, snap) {
		if time.Now().After(deadline) {
			t.Fatal("key index not warm after 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	target := lake.HotPartition(recs[0].CreatedAt)
	want := 0
	for _, r := range recs {
		if lake.HotPartition(r.CreatedAt) == target && r.SystemID == recs[0].SystemID {
			want++
		}
	}
	p.store.reset()
	a, _ := sqlQuery(t, p, fmt.Sprintf(`SELECT count(*) FROM memories WHERE system_id = '%s' AND day = '%s'`, recs[0].SystemID, target.Day), 0)
	if a.Rows[0][0].(float64) != float64(want) {
		t.Errorf("count %v, want %d", a.Rows[0][0], want)
	}
	gets := p.store.reset()
	if len(gets) == 0 {
		t.Fatal("no object was read")
	}
	for key := range gets {
		// The lake's poller reads the logs every 200 ms here, whatever
		// the statement does: only data objects are the statement's.
		if strings.Contains(key, "/_delta_log/") {
			continue
		}
		if !strings.Contains(key, target.Dir("")) {
			t.Errorf("read %s, outside the partition %s", key, target)
		}
	}
}

func TestRecordLookupAndSystems(t *testing.T) {
	p := startProcess(t, testenv.S3(t), query.Config{})
	recs := records(3, 2, 30, 5)
	push(t, p, recs)
	st, _, body := do(t, "GET", p.url+"/v1/memories/"+recs[3].SystemID+"/"+recs[3].ID, nil, nil)
	var rec map[string]any
	json.Unmarshal(body, &rec)
	if st != 200 || rec["content"] != recs[3].Content || rec["id"] != recs[3].ID {
		t.Errorf("lookup: %d %.200s", st, body)
	}
	if st, _, _ := do(t, "GET", p.url+"/v1/memories/"+recs[3].SystemID+"/nope", nil, nil); st != 404 {
		t.Errorf("missing record: %d", st)
	}
	if st, _, _ := do(t, "GET", p.url+"/v1/memories/bad%20sys/x", nil, nil); st != 400 {
		t.Errorf("bad system id: %d", st)
	}
	st, _, body = do(t, "GET", p.url+"/v1/systems", nil, nil)
	var out struct {
		Systems []struct {
			SystemID string           `json:"system_id"`
			Records  map[string]int64 `json:"records"`
			Total    int64            `json:"total"`
			First    string           `json:"first"`
		} `json:"systems"`
	}
	json.Unmarshal(body, &out)
	want := map[string]int64{}
	for _, r := range recs {
		want[r.SystemID]++
	}
	if st != 200 || len(out.Systems) != len(want) {
		t.Fatalf("systems: %d %s", st, body)
	}
	for _, s := range out.Systems {
		if s.Total != want[s.SystemID] || s.Records["hot"] != want[s.SystemID] || s.First == "" {
			t.Errorf("system %+v, want %d records", s, want[s.SystemID])
		}
	}
}

func TestBadSQLRequests(t *testing.T) {
	p := startProcess(t, testenv.S3(t), query.Config{})
	cases := []struct {
		body   any
		hdr    map[string]string
		status int
	}{
		{map[string]any{"sql": ""}, nil, 400},
		{map[string]any{"sql": "COPY memories TO '/tmp/x.csv'"}, nil, 400},
		{map[string]any{"sql": "SELECT * FROM read_text('/etc/passwd')"}, nil, 400},
		{map[string]any{"sql": "SELECT nope FROM memories"}, nil, 400},
		{map[string]any{"sql": "SELECT 1", "limit": -1}, nil, 400},
		{map[string]any{"sql": strings.Repeat("SELECT 1 UNION ALL ", 10000) + "SELECT 1"}, nil, 413},
		{map[string]any{"sql": "SELECT 1"}, map[string]string{"Accept": "image/png"}, 406},
	}
	for _, c := range cases {
		if st, _, body := do(t, "POST", p.url+"/v1/sql", c.body, c.hdr); st != c.status {
			t.Errorf("%v: %d %s, want %d", c.body, st, body, c.status)
		}
	}
}

// waitVersion waits until p sees the memories version src has.
func waitVersion(t *testing.T, p, src *process) {
	t.Helper()
	want, _ := src.lake.Table(schemas.TableMemories)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := p.lake.Table(schemas.TableMemories)
		if got.Cached().Version >= want.Cached().Version {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("process did not catch up within 5 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The result caches can be bypassed per statement ("cache": false) or
// turned off for the process: the answer is computed afresh each time,
// says so in X-Akosha-Cache, and leaves nothing behind for the next one.
func TestResultCacheCanBeBypassed(t *testing.T) {
	store := testenv.Local(t)
	p := startProcess(t, store, query.Config{})
	push(t, p, records(2, 2, 40, 5))
	const stmt = "SELECT count(*) FROM memories"
	fresh := func(p *process) string {
		t.Helper()
		st, hdr, body := do(t, "POST", p.url+"/v1/sql", map[string]any{"sql": stmt, "cache": false}, nil)
		if st != 200 || !strings.Contains(string(body), "40") {
			t.Fatalf("cache false: %d %s", st, body)
		}
		return hdr.Get("X-Akosha-Cache")
	}
	for i := range 2 {
		if tier := fresh(p); tier != "off" {
			t.Fatalf("cache false, run %d: answered from %q", i, tier)
		}
	}
	// Nothing was stored: the first cached request still misses.
	if _, tier := sqlQuery(t, p, stmt, 0); tier != "miss" {
		t.Fatalf("first cached request after bypasses: %q, want miss", tier)
	}
	if _, tier := sqlQuery(t, p, stmt, 0); tier != "l1" {
		t.Fatalf("second cached request: %q, want l1", tier)
	}
	if tier := fresh(p); tier != "off" {
		t.Fatalf("cache false with the answer cached: %q", tier)
	}

	off := startProcess(t, store, query.Config{NoResultCache: true})
	for i := range 2 {
		if _, tier := sqlQuery(t, off, stmt, 0); tier != "off" {
			t.Fatalf("caches configured off, run %d: %q", i, tier)
		}
	}
	st, _, body := do(t, "POST", p.url+"/v1/search", map[string]any{"vector": make([]float64, 384), "cache": false}, nil)
	if st == http.StatusBadRequest && strings.Contains(string(body), "cache") {
		t.Fatalf("search refuses the cache field: %s", body)
	}
}
