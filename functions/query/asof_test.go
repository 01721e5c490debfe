package query_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/schemas"
)

// pushVersion ingests recs and returns the memories version that holds them.
func pushVersion(t *testing.T, p *process, recs []schemas.Memory) int64 {
	t.Helper()
	st, _, body := do(t, "POST", p.url+"/v1/memories", map[string]any{"records": recs}, nil)
	var a struct{ Version int64 }
	if st != 200 || json.Unmarshal(body, &a) != nil {
		t.Fatalf("ingest: %d %s", st, body)
	}
	return a.Version
}

// TestAsOf: SQL, record lookups and search answer from the snapshot as_of
// names, by version or time; the result cache keeps as_of answers apart
// from the latest; a re-sent record is resolved with that snapshot's key
// index (at v1 it is not re-sent yet); bad as_of values are clear errors.
func TestAsOf(t *testing.T) {
	p := startProcess(t, testenv.S3(t), query.Config{})
	recs := records(2, 2, 30, 11)
	v1 := pushVersion(t, p, recs[:20])
	again := []schemas.Memory{recs[4], recs[7]}
	for i := range again {
		again[i].Content = "second version"
	}
	again[1].CreatedAt = again[1].CreatedAt.Add(48 * time.Hour) // another day
	v2 := pushVersion(t, p, again)
	v3 := pushVersion(t, p, recs[20:])
	if !(v1 < v2 && v2 < v3) {
		t.Fatalf("versions %d %d %d", v1, v2, v3)
	}

	sqlAt := func(stmt string, asOf any) (int, sqlAnswer, string, string) {
		t.Helper()
		body := map[string]any{"sql": stmt}
		if asOf != nil {
			body["as_of"] = asOf
		}
		st, hdr, b := do(t, "POST", p.url+"/v1/sql", body, nil)
		var a sqlAnswer
		if st == 200 {
			if err := json.Unmarshal(b, &a); err != nil {
				t.Fatal(err)
			}
		}
		return st, a, hdr.Get("X-Akosha-Cache"), string(b)
	}
	count := func(asOf any) float64 {
		t.Helper()
		st, a, _, body := sqlAt("SELECT count(*) FROM memories", asOf)
		if st != 200 {
			t.Fatalf("as_of %v: %d %s", asOf, st, body)
		}
		return a.Rows[0][0].(float64)
	}
	for _, tc := range []struct {
		asOf any
		want float64
	}{{v1, 20}, {v2, 20}, {v3, 30}, {fmt.Sprint(v1), 20}, {nil, 30}} {
		if got := count(tc.asOf); got != tc.want {
			t.Errorf("count as_of %v = %v, want %v", tc.asOf, got, tc.want)
		}
	}
	// The cache: the same statement as of v1 twice is one computation, and
	// never the latest answer.
	_, _, tier, _ := sqlAt("SELECT count(*) FROM memories", v1)
	if tier != "l1" {
		t.Errorf("second as_of %d answer: cache %q, want l1", v1, tier)
	}
	if _, a, _, _ := sqlAt("SELECT count(*) FROM memories", nil); a.Rows[0][0].(float64) != 30 || a.Version != v3 {
		t.Errorf("latest after as_of: %v at %d", a.Rows, a.Version)
	}

	// By time: the commit time of v2 is v2; just before it, v1.
	tb, _ := p.lake.Table(schemas.TableMemories)
	at2, err := tb.Log.CommitTime(ctxT(t), v2)
	if err != nil {
		t.Fatal(err)
	}
	stmt := fmt.Sprintf("SELECT content FROM memories WHERE system_id = '%s' AND id = '%s'", recs[7].SystemID, recs[7].ID)
	for _, tc := range []struct {
		asOf    any
		content string
		version int64
	}{
		{at2.Format(time.RFC3339Nano), "second version", v2},
		{at2.Add(-time.Millisecond).Format(time.RFC3339Nano), recs[7].Content, v1},
		{v1, recs[7].Content, v1},
	} {
		st, a, _, body := sqlAt(stmt, tc.asOf)
		if st != 200 || a.Count != 1 || a.Rows[0][0] != tc.content || a.Version != tc.version {
			t.Errorf("as_of %v: %d %s; want %q at version %d", tc.asOf, st, body, tc.content, tc.version)
		}
	}
	// GET /v1/memories/{sys}/{id}?as_of=
	for _, tc := range []struct {
		asOf    string
		status  int
		content string
	}{{fmt.Sprint(v1), 200, recs[7].Content}, {fmt.Sprint(v2), 200, "second version"}, {"", 200, "second version"}} {
		url := p.url + "/v1/memories/" + recs[7].SystemID + "/" + recs[7].ID
		if tc.asOf != "" {
			url += "?as_of=" + tc.asOf
		}
		st, _, body := do(t, "GET", url, nil, nil)
		var rec map[string]any
		json.Unmarshal(body, &rec)
		if st != tc.status || rec["content"] != tc.content {
			t.Errorf("GET as_of %q: %d %s", tc.asOf, st, body)
		}
	}
	if st, _, body := do(t, "GET", p.url+"/v1/memories/"+recs[25].SystemID+"/"+recs[25].ID+"?as_of="+fmt.Sprint(v1), nil, nil); st != 404 {
		t.Errorf("GET a record added after v1, as of v1: %d %s", st, body)
	}

	// Search: recs[4]'s own vector finds it first, with the content of the
	// version as_of names; a record added later is not found as of v1.
	for _, tc := range []struct {
		asOf    any
		content string
	}{{v1, recs[4].Content}, {nil, "second version"}} {
		body := map[string]any{"vector": f64(recs[4].Embedding), "k": 3}
		if tc.asOf != nil {
			body["as_of"] = tc.asOf
		}
		st, a, raw := searchHTTP(t, p, body)
		if st != 200 || len(a.Results) == 0 || a.Results[0].ID != recs[4].ID || a.Results[0].Content != tc.content {
			t.Errorf("search as_of %v: %d %s", tc.asOf, st, raw)
		}
		for i, r := range a.Results {
			for j := range i {
				if a.Results[j].ID == r.ID && a.Results[j].SystemID == r.SystemID {
					t.Errorf("search as_of %v: %s twice", tc.asOf, r.ID)
				}
			}
		}
	}
	if st, a, raw := searchHTTP(t, p, map[string]any{"vector": f64(recs[25].Embedding), "k": 30, "as_of": v1}); st != 200 || len(a.Results) != 20 {
		t.Errorf("search as of v1 with k 30: %d results (want the 20 of v1): %s", len(a.Results), raw)
	} else {
		for _, r := range a.Results {
			if r.ID == recs[25].ID && r.SystemID == recs[25].SystemID {
				t.Errorf("search as of v1 found %s, added at v3", r.ID)
			}
		}
	}

	// Text (BM25) search reads the past snapshot too: the re-sent content
	// is not there at v1.
	for _, tc := range []struct {
		asOf any
		hits int
	}{{v1, 0}, {nil, 2}} {
		body := map[string]any{"text": "second version", "mode": "text", "k": 30}
		if tc.asOf != nil {
			body["as_of"] = tc.asOf
		}
		st, a, raw := searchHTTP(t, p, body)
		n := 0
		for _, r := range a.Results {
			if r.Content == "second version" {
				n++
			}
		}
		if st != 200 || n != tc.hits {
			t.Errorf("text search as_of %v: %d, %d hits with the re-sent content, want %d: %s", tc.asOf, st, n, tc.hits, raw)
		}
	}

	// The MCP tool takes as_of too.
	req := httptest.NewRequest("POST", "/mcp", nil).WithContext(ctxT(t))
	for _, tc := range []struct {
		asOf    any
		content string
	}{{v1, recs[4].Content}, {fmt.Sprint(v2), "second version"}} {
		args, _ := json.Marshal(map[string]any{"vector": f64(recs[4].Embedding), "limit": 1, "as_of": tc.asOf})
		ans, err := p.query.CallTool(req, "search_all_systems", args)
		if err != nil {
			t.Fatalf("search_all_systems as_of %v: %v", tc.asOf, err)
		}
		res, _ := ans["results"].([]any)
		if len(res) != 1 || res[0].(query.SearchResult).Content != tc.content {
			t.Errorf("search_all_systems as_of %v: %+v", tc.asOf, ans)
		}
	}
	args, _ := json.Marshal(map[string]any{"vector": f64(recs[4].Embedding), "as_of": "soon"})
	if _, err := p.query.CallTool(req, "search_all_systems", args); err == nil || !strings.Contains(err.Error(), "invalid_as_of") {
		t.Errorf("search_all_systems as_of soon: %v", err)
	}

	// Bad values.
	first, err := tb.Log.CommitTime(ctxT(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		asOf   any
		status int
		code   string
	}{
		{"yesterday", 400, "invalid_as_of"},
		{-1, 400, "invalid_as_of"},
		{"", 400, "invalid_as_of"},
		{map[string]any{"v": 1}, 400, "invalid_as_of"},
		{v3 + 100, 404, "version_not_found"},
		{first.Add(-time.Hour).Format(time.RFC3339), 404, "version_not_found"},
	} {
		for _, route := range []string{"sql", "search"} {
			var st int
			var body string
			if route == "sql" {
				st, _, _, body = sqlAt("SELECT 1", tc.asOf)
			} else {
				st, _, body = searchHTTP(t, p, map[string]any{"vector": f64(recs[0].Embedding), "as_of": tc.asOf})
			}
			var e struct {
				Error struct{ Code, Message string }
			}
			json.Unmarshal([]byte(body), &e)
			if st != tc.status || e.Error.Code != tc.code || e.Error.Message == "" {
				t.Errorf("%s as_of %v: %d %s; want %d %s", route, tc.asOf, st, body, tc.status, tc.code)
			}
		}
	}
	if st, _, body := do(t, "GET", p.url+"/v1/memories/"+recs[0].SystemID+"/"+recs[0].ID+"?as_of=soon", nil, nil); st != 400 {
		t.Errorf("GET as_of=soon: %d %s", st, body)
	}
}
