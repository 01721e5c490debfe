package query_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/akosha/akosha/functions/ingest"
	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/jobs/compact"
	"github.com/akosha/akosha/jobs/indexer"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/fulltext"
)

// Keys of the two-tenant deployment: two teams, a contractor of team A
// limited to one system, a default-tenant viewer and a fleet-wide admin.
const (
	keyA      = "team-a-key-0123456789"
	keyB      = "team-b-key-0123456789"
	keyContra = "contractor-key-0123456789"
	keyDef    = "default-key-0123456789"
	keyOps    = "fleet-ops-key-0123456789"
)

// tenantProcess is one ingest and one query function on a lake (real S3)
// with result caches in process and in Redis, auth on.
type tenantProcess struct {
	ingest, query string
	lake          *lake.Lake
	fn            *query.Function
}

func startTenants(t *testing.T) *tenantProcess {
	t.Helper()
	keys, err := auth.ParseAPIKeys("a:operator:" + keyA + "::team-a," +
		"b:operator:" + keyB + "::team-b," +
		"contractor:operator:" + keyContra + ":a-laptop:team-a," +
		"def:operator:" + keyDef + "," +
		"ops:admin:" + keyOps + "::*")
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(auth.Config{APIKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	l, err := lake.Open(ctxT(t), testenv.S3(t))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	in, err := ingest.Open(l, a, ingest.Config{}, reg)
	if err != nil {
		t.Fatal(err)
	}
	q, err := query.Open(l, a, query.Config{CacheDir: t.TempDir(), RedisURL: testenv.RedisURL(t)}, reg)
	if err != nil {
		t.Fatal(err)
	}
	is, qs := httptest.NewServer(http.HandlerFunc(in.Handle)), httptest.NewServer(http.HandlerFunc(q.Handle))
	t.Cleanup(func() {
		is.Close()
		qs.Close()
		in.Stop(context.Background())
		q.Stop(context.Background())
	})
	return &tenantProcess{ingest: is.URL, query: qs.URL, lake: l, fn: q}
}

func bearer(key string) map[string]string { return map[string]string{"Authorization": "Bearer " + key} }

// tenantVec is a unit-ish vector, the same for every record: search ranks
// them all, so what it returns is what confinement let through.
func tenantVec() []float32 {
	v := make([]float32, 384)
	for i := range v {
		v[i] = float32(i%7) + 1
	}
	return v
}

// TestTenantsConfineEveryRoute writes records of two tenants (and the
// default one) and reads them back through every read route as each: a
// tenant's answers never hold another tenant's systems or content.
func TestTenantsConfineEveryRoute(t *testing.T) {
	p := startTenants(t)
	now := time.Now().UTC().Truncate(time.Second)
	write := func(key, table, sys, content string, want int) {
		t.Helper()
		var recs []map[string]any
		for i := range 3 {
			at := now.Add(-time.Duration(24*(i+1)) * time.Hour).Format(time.RFC3339)
			switch table {
			case "memories":
				recs = append(recs, map[string]any{"id": fmt.Sprintf("m%d", i), "content": content, "created_at": at,
					"embedding": tenantVec(), "project": "shared-project"})
			case "entities":
				recs = append(recs, map[string]any{"id": fmt.Sprintf("e%d", i), "name": "Shared" + fmt.Sprint(i), "entity_type": "tool",
					"observations": []string{content}, "created_at": at})
			case "relations":
				recs = append(recs, map[string]any{"id": fmt.Sprintf("r%d", i), "from_entity": "e0", "to_entity": fmt.Sprintf("e%d", i),
					"relation_type": content, "created_at": at})
			}
		}
		st, _, body := do(t, "POST", p.ingest+"/v1/"+table, map[string]any{"system_id": sys, "records": recs}, bearer(key))
		if st != want {
			t.Fatalf("%s writes %s/%s: %d %s, want %d", key, table, sys, st, body, want)
		}
	}
	for _, table := range []string{"memories", "entities", "relations"} {
		write(keyA, table, "a1", "alpha-secret", 200)
		write(keyB, table, "b1", "bravo-secret", 200)
		write(keyDef, table, "d1", "delta-secret", 200)
	}
	// A moment when every tenant's first records are in, before the writes
	// below: the as_of routes read the past snapshots of then.
	time.Sleep(5 * time.Millisecond)
	past := time.Now().UTC().Format(time.RFC3339Nano)
	time.Sleep(5 * time.Millisecond)
	// Writes: into another tenant's system, outside a contractor's
	// systems, or deleting another tenant's record: 403, nothing written.
	write(keyA, "memories", "b1", "alpha-intrusion", 403)
	write(keyDef, "memories", "a1", "delta-intrusion", 403)
	write(keyContra, "memories", "a1", "contractor-intrusion", 403)
	write(keyContra, "memories", "a-laptop", "alpha-laptop", 200)
	write(keyOps, "memories", "b1", "bravo-secret", 200) // the fleet-wide admin writes anywhere
	if st, _, body := do(t, "DELETE", p.ingest+"/v1/memories/b1/m0", nil, bearer(keyA)); st != 403 {
		t.Fatalf("team A deletes b1/m0: %d %s", st, body)
	}

	sum := []float32(tenantVec())
	search := map[string]any{"vector": sum, "k": 50}
	mcpCall := func(tool string, args map[string]any) map[string]any {
		return map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": map[string]any{"name": tool, "arguments": args}}
	}
	routes := []struct {
		name, method, path string
		body               any
		hdr                map[string]string
		// confined: the answer may hold only the caller's systems; denied:
		// a tenant-confined caller is refused with this status.
		denied int
	}{
		{name: "sql", method: "POST", path: "/v1/sql", body: map[string]any{"sql": "SELECT system_id, content FROM memories"}},
		{name: "sql named system", method: "POST", path: "/v1/sql", body: map[string]any{"sql": "SELECT system_id, content FROM memories WHERE system_id IN ('a1','b1','d1')"}},
		{name: "sql entities and relations", method: "POST", path: "/v1/sql", body: map[string]any{"sql": "SELECT e.system_id, observations, relation_type FROM entities e JOIN relations r USING (system_id)"}},
		{name: "sql csv export", method: "POST", path: "/v1/sql", body: map[string]any{"sql": "SELECT * EXCLUDE (embedding) FROM memories"}, hdr: map[string]string{"Accept": "text/csv"}},
		{name: "sql ndjson export", method: "POST", path: "/v1/sql", body: map[string]any{"sql": "FROM relations"}, hdr: map[string]string{"Accept": "application/x-ndjson"}},
		{name: "sql parquet export", method: "POST", path: "/v1/sql", body: map[string]any{"sql": "SELECT system_id, content FROM memories"}, hdr: map[string]string{"Accept": "application/vnd.apache.parquet"}},
		{name: "lookup a1", method: "GET", path: "/v1/memories/a1/m0"},
		{name: "lookup b1", method: "GET", path: "/v1/memories/b1/m0"},
		{name: "lookup d1", method: "GET", path: "/v1/memories/d1/m0"},
		{name: "versions b1", method: "GET", path: "/v1/memories/b1/m0/versions"},
		{name: "versions a1", method: "GET", path: "/v1/memories/a1/m0/versions"},
		{name: "systems", method: "GET", path: "/v1/systems"},
		{name: "search", method: "POST", path: "/v1/search", body: search},
		// Text and hybrid search rank by BM25 over a corpus of the
		// caller's systems only: "secret" is in every tenant's records.
		{name: "search text", method: "POST", path: "/v1/search", body: map[string]any{"mode": "text", "text": "secret", "k": 50}},
		{name: "search text filtered to b1", method: "POST", path: "/v1/search", body: map[string]any{"mode": "text", "text": "bravo secret", "filter": map[string]any{"system_id": []string{"b1"}}}},
		{name: "search hybrid", method: "POST", path: "/v1/search", body: map[string]any{"mode": "hybrid", "vector": sum, "text": "secret", "k": 50}},
		{name: "search text as_of", method: "POST", path: "/v1/search", body: map[string]any{"mode": "text", "text": "secret", "k": 50, "as_of": past}},
		{name: "sql as_of", method: "POST", path: "/v1/sql", body: map[string]any{"sql": "SELECT system_id, content FROM memories", "as_of": past}},
		{name: "sql as_of named system", method: "POST", path: "/v1/sql", body: map[string]any{"sql": "SELECT system_id, content FROM memories WHERE system_id IN ('a1','b1','d1')", "as_of": past}},
		{name: "search filtered to b1", method: "POST", path: "/v1/search", body: map[string]any{"vector": sum, "filter": map[string]any{"system_id": []string{"b1", "a1"}}}},
		{name: "trends", method: "GET", path: "/v1/analytics/trends?window=7d&group_by=system&min_points=2"},
		{name: "anomalies", method: "GET", path: "/v1/analytics/anomalies?window=7d&group_by=system&min_points=2"},
		{name: "correlations", method: "GET", path: "/v1/analytics/correlations?window=7d&group_by=system&min_points=2&min_abs=0"},
		{name: "entities by name", method: "GET", path: "/v1/graph/entities?name=Shared0"},
		{name: "entity b1", method: "GET", path: "/v1/graph/entities/b1/e0"},
		{name: "entity a1", method: "GET", path: "/v1/graph/entities/a1/e0"},
		{name: "path", method: "GET", path: "/v1/graph/path?from=Shared0&to=Shared2"},
		{name: "mcp search", method: "POST", path: "/mcp", body: mcpCall("search_all_systems", map[string]any{"vector": sum, "limit": 50})},
		{name: "mcp graph", method: "POST", path: "/mcp", body: mcpCall("query_knowledge_graph", map[string]any{"name": "Shared0"})},
		{name: "mcp trends", method: "POST", path: "/mcp", body: mcpCall("analyze_trends", map[string]any{"window": "7d", "group_by": "system", "min_points": 2})},
		{name: "lake", method: "GET", path: "/v1/lake", denied: 403},
		{name: "objects", method: "GET", path: "/v1/objects/memories/_delta_log/00000000000000000000.json", denied: 403},
	}
	callers := []struct {
		name, key string
		mine      []string // markers of what it may see
		others    []string // markers it must never see
	}{
		{"team A", keyA, []string{"alpha-"}, []string{"bravo-", "delta-secret", `"b1"`, `"d1"`}},
		{"contractor of A", keyContra, []string{"alpha-"}, []string{"bravo-", "delta-secret", `"b1"`, `"d1"`}},
		{"team B", keyB, []string{"bravo-"}, []string{"alpha-", "delta-secret", `"a1"`, `"d1"`, "a-laptop"}},
		{"default tenant", keyDef, []string{"delta-"}, []string{"alpha-", "bravo", `"a1"`, `"b1"`, "a-laptop"}},
	}
	sawOwn := map[string]bool{}
	for _, c := range callers {
		for _, rt := range routes {
			t.Run(c.name+"/"+rt.name, func(t *testing.T) {
				hdr := bearer(c.key)
				for k, v := range rt.hdr {
					hdr[k] = v
				}
				st, _, body := do(t, rt.method, p.query+rt.path, rt.body, hdr)
				if rt.denied != 0 {
					if st != rt.denied {
						t.Fatalf("%d %s, want %d", st, body, rt.denied)
					}
					return
				}
				if st >= 500 || st == 401 || st == 403 || st == 400 || st == 410 ||
					(st == 404 && strings.Contains(string(body), "version_not")) {
					t.Fatalf("%d %s", st, body)
				}
				text := string(body)
				for _, m := range c.others {
					if strings.Contains(text, m) {
						t.Fatalf("%s sees %s: %s", c.name, m, truncate(text, 600))
					}
				}
				for _, m := range c.mine {
					if strings.Contains(text, m) {
						sawOwn[c.name] = true
					}
				}
			})
		}
		if !sawOwn[c.name] {
			t.Errorf("%s never saw its own records: the test proves nothing for it", c.name)
		}
	}

	// The BM25 statistics are the tenant's own: a tenant's score of
	// "secret" is that of a corpus holding only its records, not one
	// weighed down by the other tenants' "secret"s. Team A (an allow list
	// of systems) has a1's three alpha-secret and a-laptop's three
	// alpha-laptop; the default tenant (a deny list) has d1's three.
	bm25Own := func(what string) {
		t.Helper()
		for _, c := range []struct {
			key, sys string
			corpus   []string
		}{
			{keyA, "a1", []string{"alpha-secret", "alpha-secret", "alpha-secret", "alpha-laptop", "alpha-laptop", "alpha-laptop"}},
			{keyDef, "d1", []string{"delta-secret", "delta-secret", "delta-secret"}},
		} {
			var docs []fulltext.Doc
			for _, text := range c.corpus {
				docs = append(docs, fulltext.Doc{Content: text})
			}
			want, err := fulltext.NewTexts(docs).Search(fulltext.ParseQuery("secret", fulltext.MatchAny), fulltext.Options{K: 1})
			if err != nil || len(want) != 1 {
				t.Fatalf("reference BM25: %v %v", want, err)
			}
			var got struct {
				Results []struct {
					SystemID string   `json:"system_id"`
					BM25     *float64 `json:"bm25"`
				} `json:"results"`
			}
			st, _, body := do(t, "POST", p.query+"/v1/search", map[string]any{"mode": "text", "text": "secret", "k": 50}, bearer(c.key))
			if err := json.Unmarshal(body, &got); st != 200 || err != nil || len(got.Results) != 3 {
				t.Fatalf("%s's text search: %d %s (%v)", c.sys, st, body, err)
			}
			for _, r := range got.Results {
				if r.SystemID != c.sys || r.BM25 == nil || math.Abs(*r.BM25-want[0].Score) > 1e-6*want[0].Score {
					t.Fatalf("%s: text search as %s's tenant: hit %s bm25 %v, want %s with %v (a corpus of the tenant's records only)",
						what, c.sys, r.SystemID, r.BM25, c.sys, want[0].Score)
				}
			}
		}
	}
	bm25Own("exact")
	// The same through full-text segments: one segment holds every
	// tenant's records, and neither its hits nor its statistics leak.
	if sum, err := indexer.Run(ctxT(t), p.lake, indexer.Options{MinVectors: -1, EfConstruction: 16}); err != nil || sum.Built == 0 {
		t.Fatalf("index: %+v %v", sum, err)
	}
	if err := p.fn.RefreshIndexes(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	res, err := p.fn.Search(ctxT(t), query.SearchRequest{Mode: "text", Text: "secret", K: ptr(50)})
	if segs, _ := query.TextStatsOf(res); err != nil || segs == 0 {
		t.Fatalf("text search after the index: %d segments, %v", segs, err)
	}
	bm25Own("through segments")
	for _, c := range callers {
		for _, body := range []map[string]any{
			{"mode": "text", "text": "secret", "k": 50},
			{"mode": "text", "text": "bravo alpha delta secret laptop", "k": 50},
		} {
			st, _, b := do(t, "POST", p.query+"/v1/search", body, bearer(c.key))
			if st != 200 {
				t.Fatalf("%s through segments: %d %s", c.name, st, b)
			}
			for _, m := range c.others {
				if strings.Contains(string(b), m) {
					t.Fatalf("%s through segments sees %s: %s", c.name, m, truncate(string(b), 600))
				}
			}
		}
	}

	// The fleet-wide admin sees every tenant, and the lake's overview.
	st, _, body := do(t, "POST", p.query+"/v1/sql", map[string]any{"sql": "SELECT DISTINCT system_id FROM memories ORDER BY 1"}, bearer(keyOps))
	if st != 200 || !strings.Contains(string(body), `[["a-laptop"],["a1"],["b1"],["d1"]]`) {
		t.Errorf("fleet-wide SQL: %d %s", st, body)
	}
	if st, _, body := do(t, "GET", p.query+"/v1/lake", nil, bearer(keyOps)); st != 200 {
		t.Errorf("fleet-wide /v1/lake: %d %s", st, body)
	}

	// Cached answers are per tenant: B's answer, cached in process and in
	// Redis, is not A's, and A's first asking is computed (a miss), so its
	// timing says nothing of B's.
	stmt := map[string]any{"sql": "SELECT count(*) AS n, min(content) AS c FROM memories"}
	_, h, body := do(t, "POST", p.query+"/v1/sql", stmt, bearer(keyB))
	if _, h2, _ := do(t, "POST", p.query+"/v1/sql", stmt, bearer(keyB)); h2.Get("X-Akosha-Cache") != "l1" {
		t.Errorf("B's repeat: cache %q, want l1 (first %q, %s)", h2.Get("X-Akosha-Cache"), h.Get("X-Akosha-Cache"), body)
	}
	_, h, body = do(t, "POST", p.query+"/v1/sql", stmt, bearer(keyA))
	if h.Get("X-Akosha-Cache") != "miss" || !strings.Contains(string(body), "alpha") {
		t.Errorf("A after B: cache %q, %s", h.Get("X-Akosha-Cache"), body)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// TestConfinedReadsOfOwnAndSharedFiles reads one tenant's records through
// SQL and search twice: while each data file holds one system (as ingest
// writes them: read without the row test, sqlexec.File.Allowed), and after
// compaction merged both tenants' records into the same files (each row
// tested and masked). The answers are the same, and never another
// tenant's.
func TestConfinedReadsOfOwnAndSharedFiles(t *testing.T) {
	p := startTenants(t)
	ctx := ctxT(t)
	now := time.Now().UTC().Truncate(time.Second)
	for _, w := range []struct{ key, sys, content string }{{keyA, "a1", "alpha-secret"}, {keyB, "b1", "bravo-secret"}} {
		var recs []map[string]any
		for i := range 3 {
			recs = append(recs, map[string]any{"id": fmt.Sprintf("m%d", i), "content": w.content, "embedding": tenantVec(),
				"created_at": now.Add(-time.Duration(24*(i+1)) * time.Hour).Format(time.RFC3339)})
		}
		if st, _, body := do(t, "POST", p.ingest+"/v1/memories", map[string]any{"system_id": w.sys, "records": recs}, bearer(w.key)); st != 200 {
			t.Fatalf("write %s: %d %s", w.sys, st, body)
		}
	}
	filesHolding := func() (one, both int) {
		t.Helper()
		tb, _ := p.lake.Table("memories")
		snap, err := tb.Refresh(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for a := range snap.AllFiles() {
			if lo, hi, ok := lake.SystemRange(a); ok && lo == hi {
				one++
			} else {
				both++
			}
		}
		return one, both
	}
	check := func(stage string) {
		t.Helper()
		for _, sql := range []string{
			"SELECT system_id, id, content FROM memories ORDER BY id",
			"SELECT system_id, id, content FROM memories WHERE system_id IN ('a1', 'b1') ORDER BY id",
		} {
			st, _, body := do(t, "POST", p.query+"/v1/sql", map[string]any{"sql": sql}, bearer(keyA))
			if st != 200 || strings.Count(string(body), "alpha-secret") != 3 || strings.Contains(string(body), "bravo") || strings.Contains(string(body), `"b1"`) {
				t.Fatalf("%s: team A's %q: %d %s", stage, sql, st, body)
			}
		}
		// An expression that fails on a row names no other tenant's value.
		st, _, body := do(t, "POST", p.query+"/v1/sql", map[string]any{"sql": "SELECT id FROM memories WHERE CAST(content AS INTEGER) = 1"}, bearer(keyA))
		if strings.Contains(string(body), "bravo") {
			t.Fatalf("%s: the error reveals team B's content: %d %s", stage, st, body)
		}
		st, _, body = do(t, "POST", p.query+"/v1/search", map[string]any{"vector": tenantVec(), "k": 10}, bearer(keyA))
		if st != 200 || strings.Count(string(body), `"a1"`) != 3 || strings.Contains(string(body), `"b1"`) {
			t.Fatalf("%s: team A's search: %d %s", stage, st, body)
		}
	}
	if one, both := filesHolding(); one == 0 || both != 0 {
		t.Fatalf("before compaction: %d files of one system, %d of several; want only the first", one, both)
	}
	check("files of one system")
	if whole, tested := query.ConfinedFiles(p.fn); whole == 0 || tested != 0 {
		t.Fatalf("files of one system: %v read whole, %v row by row; want all whole", whole, tested)
	}
	if _, err := compact.Run(ctx, p.lake, compact.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, both := filesHolding(); both == 0 {
		t.Fatal("compaction left no file holding both tenants' records: the second check would prove nothing")
	}
	whole0, _ := query.ConfinedFiles(p.fn)
	check("files of both tenants")
	if whole, tested := query.ConfinedFiles(p.fn); whole != whole0 || tested == 0 {
		t.Fatalf("files of both tenants: %v more read whole, %v row by row; want every one tested", whole-whole0, tested)
	}
}
