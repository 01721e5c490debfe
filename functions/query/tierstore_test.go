package query_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/testenv"
)

// Three processes on one lake: a hot tier store (a query process pinned to
// the hot tier), and a query process that reads the hot tier's objects
// through it before S3. When the store goes away, reads fall back to S3.
func TestQueryReadsThroughTheTierStore(t *testing.T) {
	s := testenv.S3(t)
	writer := startProcess(t, s, query.Config{})
	push(t, writer, records(3, 2, 60, 21))

	hot := startProcess(t, s, query.Config{Tier: "hot"})
	storeSrv := httptest.NewServer(hot.handler)
	reader := startProcess(t, s, query.Config{TierStores: map[string]string{"hot": storeSrv.URL}})
	waitVersion(t, reader, writer)

	reader.store.reset()
	hot.store.reset()
	a, _ := sqlQuery(t, reader, `SELECT count(*) FROM memories`, 0)
	if a.Rows[0][0].(float64) != 60 {
		t.Fatalf("count %v, want 60", a.Rows[0][0])
	}
	for key := range reader.store.reset() {
		if strings.Contains(key, "/tier=hot/") {
			t.Errorf("the reader fetched %s from S3 although the hot store serves it", key)
		}
	}
	served := 0
	hotGets := hot.store.reset()
	t.Logf("hot store GETs: %d keys; metrics %v", len(hotGets), hot.query.CacheStats())
	for key := range hotGets {
		if strings.Contains(key, "/tier=hot/") {
			served++
		}
	}
	if served == 0 {
		t.Error("the hot store fetched nothing from the lake for the reader")
	}
	// The store refuses other tiers and bad keys.
	for path, want := range map[string]int{
		"/v1/objects/memories/tier=warm/system_id=a/day=2026-11-01/x.parquet": 404,
		"/v1/objects/memories/tier=hot/../../etc/passwd":                      400,
	} {
		if st, _, _ := do(t, "GET", storeSrv.URL+path, nil, nil); st != want && !(want == 400 && st == 404) {
			t.Errorf("GET %s: %d, want %d", path, st, want)
		}
	}

	// The store goes away: a fresh reader falls back to S3.
	storeSrv.Close()
	reader2 := startProcess(t, s, query.Config{TierStores: map[string]string{"hot": storeSrv.URL}})
	waitVersion(t, reader2, writer)
	if a, _ := sqlQuery(t, reader2, `SELECT count(*) FROM memories`, 0); a.Rows[0][0].(float64) != 60 {
		t.Errorf("without the store: count %v, want 60", a.Rows[0][0])
	}
}
