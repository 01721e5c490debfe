package query_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/jobs/age"
	"github.com/akosha/akosha/jobs/indexer"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/hnsw"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// storeSpy wraps a tier store's handler and counts what reaches it.
type storeSpy struct {
	next atomic.Pointer[http.Handler] // the store's handler, once it runs
	hang atomic.Bool                  // hold searches until the caller gives up

	mu        sync.Mutex
	forwarded map[string]int // handed-on searches by their filter.tier
	direct    int            // searches not handed on
	auth      map[string]int // Authorization headers of handed-on searches
}

func newSpy() *storeSpy { return &storeSpy{forwarded: map[string]int{}, auth: map[string]int{}} }

func (s *storeSpy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == "/v1/search" {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		var req struct {
			Text   string `json:"text"`
			Filter struct {
				Tier []string `json:"tier"`
			} `json:"filter"`
		}
		json.Unmarshal(b, &req)
		s.mu.Lock()
		if r.Header.Get("X-Akosha-Forwarded") != "" {
			s.forwarded[strings.Join(req.Filter.Tier, ",")]++
			s.auth[r.Header.Get("Authorization")]++
			if req.Text != "" {
				s.forwarded["with text"]++
			}
		} else {
			s.direct++
		}
		s.mu.Unlock()
		if s.hang.Load() {
			<-r.Context().Done()
			return
		}
	}
	next := s.next.Load()
	if next == nil {
		// The other store, starting, reads objects through this one.
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	(*next).ServeHTTP(w, r)
}

func (s *storeSpy) counts() (map[string]int, int, map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, a := map[string]int{}, map[string]int{}
	for k, v := range s.forwarded {
		f[k] = v
	}
	for k, v := range s.auth {
		a[k] = v
	}
	return f, s.direct, a
}

// tierLake is one lake with hot, warm and cold data, a reference process
// searching all of it itself, two tier stores (hot, warm) and a front
// process that hands search on to them.
type tierLake struct {
	s                     storage.Store
	ref, hot, warm, front *process
	hotSrv, warmSrv       *httptest.Server
	hotSpy, warmSpy       *storeSpy
	frontCache, hotCache  string
	beforeAge, afterAge   int64 // memories versions around the age run
	afterResend           int64
	vecs                  map[string][]float32 // system_id/id -> embedding
}

func memVersion(p *process) int64 {
	t, _ := p.lake.Table(schemas.TableMemories)
	return t.Cached().Version
}

func newTierLake(t *testing.T) *tierLake {
	ctx := ctxT(t)
	s := testenv.S3(t)
	tl := &tierLake{s: s, vecs: map[string][]float32{}}
	tl.ref = startProcess(t, s, query.Config{})

	// 20 days of records from gen.Base; aged at the end of day 19 with a
	// short policy: days 0-7 go cold, 8-12 warm, 13-19 stay hot.
	recs := records(3, 20, 240, 41)
	for i := 0; i < len(recs); i += 80 {
		push(t, tl.ref, recs[i:i+80])
	}
	var again []schemas.Memory // re-sent in place: latest wins inside a partition
	for i := 0; i < len(recs); i += 23 {
		r := recs[i]
		r.Content = "v2 " + r.ID
		again = append(again, r)
	}
	push(t, tl.ref, again)
	tl.beforeAge = memVersion(tl.ref)
	policy := age.Policy{WarmAfter: 7, ColdAfter: 12, DeleteAfter: 1000}
	if _, err := age.Run(ctx, tl.ref.lake, age.Options{Now: gen.Base.AddDate(0, 0, 20), Policy: policy}); err != nil {
		t.Fatal(err)
	}
	tl.afterAge = memVersion(tl.ref)
	// Every tier indexed; the files written after (the re-sends below) are
	// scanned exactly.
	if _, err := indexer.Run(ctx, tl.ref.lake, indexer.Options{MinVectors: -1}); err != nil {
		t.Fatal(err)
	}
	// Records of warm and cold days re-sent after the move land in hot:
	// their latest version is in another tier than the old one.
	var moved []schemas.Memory
	for _, r := range recs {
		if d := schemas.Day(r.CreatedAt); d < "2026-11-14" && len(moved) < 8 {
			r.Content = "v3 " + r.ID
			moved = append(moved, r)
		}
	}
	push(t, tl.ref, moved)
	tl.afterResend = memVersion(tl.ref)
	for _, r := range recs {
		tl.vecs[r.SystemID+"/"+r.ID] = r.Embedding
	}
	a, _ := sqlQuery(t, tl.ref, `SELECT count(*) FILTER (tier = 'hot'), count(*) FILTER (tier = 'warm'), count(*) FILTER (tier = 'cold') FROM memories`, 0)
	for i, tier := range []string{"hot", "warm", "cold"} {
		if n, _ := a.Rows[0][i].(float64); n == 0 {
			t.Fatalf("no %s records: %v", tier, a.Rows[0])
		}
	}
	t.Logf("records by tier (hot, warm, cold): %v; versions %d -> %d -> %d", a.Rows[0], tl.beforeAge, tl.afterAge, tl.afterResend)

	// The stores' URLs are needed before the stores exist: every process
	// gets the same AKOSHA_TIER_STORES, as the shared ConfigMap gives it.
	tl.hotSpy, tl.warmSpy = newSpy(), newSpy()
	tl.hotSrv, tl.warmSrv = httptest.NewServer(tl.hotSpy), httptest.NewServer(tl.warmSpy)
	t.Cleanup(tl.hotSrv.Close)
	t.Cleanup(tl.warmSrv.Close)
	stores := map[string]string{"hot": tl.hotSrv.URL, "warm": tl.warmSrv.URL}
	tl.hotCache = t.TempDir()
	tl.hot = startProcess(t, s, query.Config{Tier: "hot", TierStores: stores, CacheDir: tl.hotCache})
	tl.warm = startProcess(t, s, query.Config{Tier: "warm", TierStores: stores})
	tl.hotSpy.next.Store(&tl.hot.handler)
	tl.warmSpy.next.Store(&tl.warm.handler)
	tl.frontCache = t.TempDir()
	tl.front = startProcess(t, s, query.Config{TierStores: stores, CacheDir: tl.frontCache})
	for _, p := range []*process{tl.ref, tl.hot, tl.warm, tl.front} {
		waitVersion(t, p, tl.ref)
		if err := p.query.RefreshIndexes(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return tl
}

// query is a unit vector near the mean of some records' embeddings: those
// score well above the rest.
func (tl *tierLake) query(seed uint64, n int) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	keys := make([]string, 0, len(tl.vecs))
	for k := range tl.vecs {
		keys = append(keys, k)
	}
	// Map order is random: sort for a reproducible pick.
	slices.Sort(keys)
	q := make([]float32, schemas.EmbeddingDim)
	for range n {
		v := tl.vecs[keys[r.IntN(len(keys))]]
		for i := range q {
			q[i] += v[i]
		}
	}
	noise := gen.Embedding(r)
	for i := range q {
		q[i] += 0.3 * noise[i]
	}
	hnsw.Normalize(q)
	return f64(q)
}

func searchAt(t *testing.T, url string, body any, hdr map[string]string) []query.SearchResult {
	t.Helper()
	st, _, b := do(t, "POST", url+"/v1/search", body, hdr)
	if st != 200 {
		t.Fatalf("search %s: %d %s", url, st, b)
	}
	var a searchAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return a.Results
}

// reference is a plain local search over the whole lake, by a process
// without tier stores. It must find k results whenever k match: the head of
// the same search with k = 1000 says how many do (a local search once came
// back short when it dropped old versions of re-sent records across many
// small partitions).
func (tl *tierLake) reference(t *testing.T, body map[string]any) []query.SearchResult {
	t.Helper()
	want := searchAt(t, tl.ref.url, body, nil)
	k := body["k"].(int)
	if len(want) < k {
		wide := map[string]any{}
		for key, v := range body {
			wide[key] = v
		}
		wide["k"] = 1000
		if all := searchAt(t, tl.ref.url, wide, nil); len(all) > len(want) {
			t.Fatalf("the local search with k=%d found %d results, but %d match", k, len(want), len(all))
		}
	}
	return want
}

// sameResults checks a fanned-out answer against a local one: the same
// records in the same order, with the same fields and scores within 1e-5.
func sameResults(t *testing.T, what string, got, want []query.SearchResult) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d results, want %d\n got %s\nwant %s", what, len(got), len(want), summarize(got), summarize(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.SystemID != w.SystemID || g.ID != w.ID || math.Abs(float64(g.Score-w.Score)) > 1e-5 ||
			g.Tier != w.Tier || g.Content != w.Content || g.Kind != w.Kind || g.CreatedAt != w.CreatedAt || g.Project != w.Project {
			t.Fatalf("%s: result %d is %s/%s %s %v, want %s/%s %s %v\n got %s\nwant %s", what, i,
				g.SystemID, g.ID, g.Tier, g.Score, w.SystemID, w.ID, w.Tier, w.Score, summarize(got), summarize(want))
		}
	}
}

func summarize(rs []query.SearchResult) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%s/%s@%s=%.5f ", r.SystemID, r.ID, r.Tier, r.Score)
	}
	return b.String()
}

// fanoutCase is one search and the tiers it covers.
type fanoutCase struct {
	name  string
	body  map[string]any
	tiers []string // tiers the filter keeps
}

func (tl *tierLake) cases() []fanoutCase {
	all := []string{"hot", "warm", "cold"}
	return []fanoutCase{
		{"no filter", map[string]any{"vector": tl.query(1, 5), "k": 10}, all},
		{"k larger than the lake", map[string]any{"vector": tl.query(2, 3), "k": 1000}, all},
		{"warm only", map[string]any{"vector": tl.query(3, 5), "k": 5, "filter": map[string]any{"tier": "warm"}}, []string{"warm"}},
		{"hot and cold", map[string]any{"vector": tl.query(4, 5), "k": 20, "filter": map[string]any{"tier": []string{"hot", "cold"}}}, []string{"hot", "cold"}},
		{"cold only", map[string]any{"vector": tl.query(5, 5), "k": 7, "filter": map[string]any{"tier": []string{"cold"}}}, []string{"cold"}},
		{"one system, more k than matches", map[string]any{"vector": tl.query(6, 4), "k": 500,
			"filter": map[string]any{"system_id": "sys-001", "kind": []string{schemas.KindReflection}}}, all},
		{"threshold", map[string]any{"vector": tl.query(7, 6), "k": 50, "threshold": 0.15}, all},
		{"time window across tiers", map[string]any{"vector": tl.query(8, 5), "k": 15,
			"filter": map[string]any{"from": "2026-11-07T00:00:00Z", "to": "2026-11-16T12:00:00Z", "system_id": []string{"sys-000", "sys-002"}}}, all},
	}
}

// Three processes and a reference: a hot store and a warm store (query
// processes pinned to their tiers, with their own caches) and a front query
// process with AKOSHA_TIER_STORES. The front hands each tier's search to
// its store, searches cold itself, and merges: its answers equal a plain
// local search over the whole lake.
func TestSearchFansOutToTierStores(t *testing.T) {
	tl := newTierLake(t)
	creds := map[string]string{"Authorization": "Bearer fan-out-test"}
	wantHot, wantWarm := 0, 0
	for _, c := range tl.cases() {
		want := tl.reference(t, c.body)
		got := searchAt(t, tl.front.url, c.body, creds)
		sameResults(t, c.name, got, want)
		for _, tier := range c.tiers {
			switch tier {
			case "hot":
				wantHot++
			case "warm":
				wantWarm++
			}
		}
	}

	// The stores got exactly the searches of their tiers, as the caller.
	hotGot, _, hotAuth := tl.hotSpy.counts()
	warmGot, _, warmAuth := tl.warmSpy.counts()
	if fmt.Sprint(hotGot) != fmt.Sprint(map[string]int{"hot": wantHot}) || fmt.Sprint(warmGot) != fmt.Sprint(map[string]int{"warm": wantWarm}) {
		t.Errorf("handed-on searches: hot store %v, warm store %v; want %d and %d", hotGot, warmGot, wantHot, wantWarm)
	}
	if hotAuth["Bearer fan-out-test"] != wantHot || warmAuth["Bearer fan-out-test"] != wantWarm {
		t.Errorf("credentials handed on: hot %v, warm %v", hotAuth, warmAuth)
	}
	// The front searched no hot or warm partition itself: its own search
	// work (partitions searched through an index or scanned, indexes used)
	// is exactly that of the same search narrowed to cold, and it holds no
	// hot or warm index. (It may read hot and warm data files for another
	// reason: resolving which version of a re-sent cold record is the
	// latest takes a statement over the whole table.)
	ctx := ctxT(t)
	for _, c := range tl.cases() {
		req := searchRequest(t, c.body)
		got, err := tl.front.query.Search(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		gi, ge, gf, _, gk := query.SearchStatsOf(got)
		var wi, we, wf int
		var wk []string
		if slices.Contains(c.tiers, "cold") {
			req.Filter.Tier = query.StringList{"cold"}
			want, err := tl.ref.query.Search(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			wi, we, wf, _, wk = query.SearchStatsOf(want)
		}
		slices.Sort(gk)
		slices.Sort(wk)
		if gi != wi || ge != we || gf != wf || !slices.Equal(gk, wk) {
			t.Errorf("%s: the front searched %d indexes (%d exactly) and scanned %d files (indexes %v); a cold-only search: %d (%d), %d (%v)",
				c.name, gi, ge, gf, gk, wi, we, wf, wk)
		}
	}
	if idx := cachedTiers(t, filepath.Join(tl.frontCache, schemas.TableMemories, "_indexes")); idx["hot"]+idx["warm"] != 0 || idx["cold"] == 0 {
		t.Errorf("front cache holds indexes by tier %v; want cold only", idx)
	}
	if n := query.TierStoreFallbacks(tl.front.query, "hot") + query.TierStoreFallbacks(tl.front.query, "warm"); n != 0 {
		t.Errorf("%v fallbacks with both stores up", n)
	}
	// The hot store's cache holds its tier's indexes.
	if idx := cachedTiers(t, filepath.Join(tl.hotCache, schemas.TableMemories, "_indexes")); idx["hot"] == 0 {
		t.Errorf("hot store cache holds indexes by tier %v", idx)
	}

	t.Run("text is embedded once, by the front", func(t *testing.T) {
		var calls atomic.Int32
		emb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			json.NewEncoder(w).Encode(map[string]any{"data": []any{map[string]any{"embedding": tl.query(9, 5)}}})
		}))
		defer emb.Close()
		tl.front.query.SetEmbeddings(emb.URL, "mini")
		tl.ref.query.SetEmbeddings(emb.URL, "mini")
		defer tl.front.query.SetEmbeddings("", "")
		defer tl.ref.query.SetEmbeddings("", "")
		// Mode vector: text and hybrid modes are answered by the front
		// itself (BM25 needs the whole corpus' statistics).
		want := tl.reference(t, map[string]any{"text": "anything", "k": 12, "mode": "vector"})
		calls.Store(0)
		before, _, _ := tl.hotSpy.counts()
		sameResults(t, "text", searchAt(t, tl.front.url, map[string]any{"text": "anything", "k": 12, "mode": "vector"}, nil), want)
		after, _, _ := tl.hotSpy.counts()
		if calls.Load() != 1 || after["hot"] != before["hot"]+1 || after["with text"] != 0 {
			t.Errorf("embedding calls %d; hot store searches %v -> %v", calls.Load(), before, after)
		}
	})

	t.Run("MCP search_all_systems fans out too", func(t *testing.T) {
		c := tl.cases()[0]
		want := tl.reference(t, c.body)
		before, _, _ := tl.warmSpy.counts()
		args, _ := json.Marshal(map[string]any{"vector": c.body["vector"], "limit": 10})
		ans, err := tl.front.query.CallTool(httptest.NewRequest("POST", "/mcp", nil), "search_all_systems", args)
		if err != nil {
			t.Fatal(err)
		}
		var got []query.SearchResult
		for _, r := range ans["results"].([]any) {
			got = append(got, r.(query.SearchResult))
		}
		sameResults(t, "mcp", got, want)
		if after, _, _ := tl.warmSpy.counts(); after["warm"] != before["warm"]+1 {
			t.Errorf("warm store searches %v -> %v", before, after)
		}
	})

	t.Run("a store never fans out", func(t *testing.T) {
		// The hot store has AKOSHA_TIER_STORES too: AKOSHA_TIER wins, and a
		// search sent to it directly is answered there, over every tier.
		c := tl.cases()[0]
		want := tl.reference(t, c.body)
		hotBefore, directBefore, _ := tl.hotSpy.counts()
		warmBefore, _, _ := tl.warmSpy.counts()
		sameResults(t, "direct to the hot store", searchAt(t, tl.hotSrv.URL, c.body, nil), want)
		hotAfter, directAfter, _ := tl.hotSpy.counts()
		warmAfter, _, _ := tl.warmSpy.counts()
		if fmt.Sprint(warmAfter) != fmt.Sprint(warmBefore) || fmt.Sprint(hotAfter) != fmt.Sprint(hotBefore) || directAfter != directBefore+1 {
			t.Errorf("a direct search on the hot store reached the stores: hot %v -> %v, warm %v -> %v", hotBefore, hotAfter, warmBefore, warmAfter)
		}
		// A search marked as handed on is answered where it arrives, even
		// by a front: no loops.
		sameResults(t, "marked search on the front", searchAt(t, tl.front.url, c.body, map[string]string{"X-Akosha-Forwarded": "search"}), want)
		if after, _, _ := tl.warmSpy.counts(); fmt.Sprint(after) != fmt.Sprint(warmAfter) {
			t.Errorf("a marked search was handed on again: %v -> %v", warmAfter, after)
		}
		// A store refuses another tier's handed-on search (a misconfigured
		// AKOSHA_TIER_STORES), and a malformed version.
		body := map[string]any{"vector": c.body["vector"], "filter": map[string]any{"tier": "warm"}}
		if st, _, b := do(t, "POST", tl.hot.url+"/v1/search", body, map[string]string{"X-Akosha-Forwarded": "search"}); st != http.StatusMisdirectedRequest || !strings.Contains(string(b), "wrong_tier") {
			t.Errorf("hot store asked for warm: %d %s", st, b)
		}
		body["filter"] = map[string]any{"tier": "hot"}
		if st, _, b := do(t, "POST", tl.hot.url+"/v1/search", body, map[string]string{"X-Akosha-Forwarded": "search", "X-Akosha-Min-Version": "x"}); st != 400 {
			t.Errorf("bad min version: %d %s", st, b)
		}
	})

	t.Run("moves between tiers are found in the log", func(t *testing.T) {
		ctx := ctxT(t)
		if moved, err := query.MovedBetween(ctx, tl.front.query, tl.beforeAge, tl.afterAge); err != nil || !moved {
			t.Errorf("age run %d..%d: moved %v, %v", tl.beforeAge, tl.afterAge, moved, err)
		}
		if moved, err := query.MovedBetween(ctx, tl.front.query, tl.afterAge, tl.afterResend); err != nil || moved {
			t.Errorf("ingest %d..%d: moved %v, %v", tl.afterAge, tl.afterResend, moved, err)
		}
	})

	t.Run("answers from both sides of a move are asked again", func(t *testing.T) {
		// A front that does not poll: its snapshot stays where it is
		// while the age job moves warm partitions to cold and hot ones to
		// warm, and the stores catch up. Its own cold answer is then from
		// before the moves and the warm store's from after: the records
		// that went from warm to cold would be in neither, so the front
		// catches up and searches cold again.
		ctx := ctxT(t)
		l, err := lake.Open(ctx, tl.s)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := auth.New(auth.Config{Disabled: true})
		stale, err := query.Open(l, a, query.Config{CacheDir: t.TempDir(),
			TierStores: map[string]string{"hot": tl.hotSrv.URL, "warm": tl.warmSrv.URL}}, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		defer stale.Stop(ctx)
		mem, _ := l.Table(schemas.TableMemories)
		before := mem.Cached().Version
		policy := age.Policy{WarmAfter: 7, ColdAfter: 12, DeleteAfter: 1000}
		sum, err := age.Run(ctx, tl.ref.lake, age.Options{Now: gen.Base.AddDate(0, 0, 25), Policy: policy})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("second age run: %+v", sum)
		for _, p := range []*process{tl.hot, tl.warm} {
			tb, _ := p.lake.Table(schemas.TableMemories)
			if _, err := tb.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := stale.RefreshIndexes(ctx); err != nil {
			t.Fatal(err)
		}
		if mem.Cached().Version != before {
			t.Fatal("the front without polling moved on by itself")
		}
		body := map[string]any{"vector": tl.query(10, 5), "k": 1000}
		want := tl.reference(t, body)
		got, err := stale.Search(ctx, searchRequest(t, body))
		if err != nil {
			t.Fatal(err)
		}
		sameResults(t, "across a move", got.Results, want)
		if v := mem.Cached().Version; v <= before {
			t.Errorf("the front did not catch up: version %d", v)
		}
	})

	t.Run("a slow store times out and its tier is searched here", func(t *testing.T) {
		old := query.SetTierStoreTimeout(tl.front.query, 300*time.Millisecond)
		defer query.SetTierStoreTimeout(tl.front.query, old)
		tl.warmSpy.hang.Store(true)
		defer tl.warmSpy.hang.Store(false)
		before := query.TierStoreFallbacks(tl.front.query, "warm")
		c := tl.cases()[2] // warm only
		sameResults(t, "slow warm store", searchAt(t, tl.front.url, c.body, nil), tl.reference(t, c.body))
		if after := query.TierStoreFallbacks(tl.front.query, "warm"); after != before+1 {
			t.Errorf("warm fallbacks %v -> %v", before, after)
		}
	})

	t.Run("a store that is down: its tier is searched here", func(t *testing.T) {
		tl.hotSrv.Close()
		before := query.TierStoreFallbacks(tl.front.query, "hot")
		warmBefore, _, _ := tl.warmSpy.counts()
		n, nWarm := 0, 0
		for _, c := range tl.cases() {
			sameResults(t, c.name+" (hot store down)", searchAt(t, tl.front.url, c.body, nil), tl.reference(t, c.body))
			for _, tier := range c.tiers {
				switch tier {
				case "hot":
					n++
				case "warm":
					nWarm++
				}
			}
		}
		if after := query.TierStoreFallbacks(tl.front.query, "hot"); after != before+float64(n) {
			t.Errorf("hot fallbacks %v -> %v, want +%d", before, after, n)
		}
		if after, _, _ := tl.warmSpy.counts(); after["warm"] != warmBefore["warm"]+nWarm {
			t.Errorf("the warm store still answers its tier: %v -> %v, want +%d", warmBefore, after, nWarm)
		}
	})
}

// searchRequest decodes a search body as the function does.
func searchRequest(t *testing.T, body map[string]any) query.SearchRequest {
	t.Helper()
	b, _ := json.Marshal(body)
	var req query.SearchRequest
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	if req.Filter == nil {
		req.Filter = &query.SearchFilter{}
	}
	return req
}

// cachedTiers counts the files of each tier in a cache directory (the cache
// keeps objects at their keys).
func cachedTiers(t *testing.T, dir string) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		for _, part := range strings.Split(filepath.ToSlash(path), "/") {
			if tier, ok := strings.CutPrefix(part, "tier="); ok {
				out[tier]++
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
