package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/akosha/akosha/functions/ingest"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

const secret = "test-secret-test-secret-test-secret!"

// server is one ingest process on a lake.
type server struct {
	*httptest.Server
	lake *lake.Lake
}

func ctxT(t testing.TB) context.Context {
	return testenv.Context(t)
}

func startOn(t testing.TB, store storage.Store, authCfg auth.Config, cfg ingest.Config) *server {
	t.Helper()
	l, err := lake.Open(ctxT(t), store)
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(authCfg)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ingest.Open(l, a, cfg, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(http.HandlerFunc(f.Handle))
	t.Cleanup(func() {
		ts.Close()
		f.Stop(context.Background())
	})
	return &server{Server: ts, lake: l}
}

func start(t *testing.T) *server {
	return startOn(t, testenv.S3(t), auth.Config{Disabled: true}, ingest.Config{})
}

type answer struct {
	Status    int
	Body      map[string]any
	Raw       string
	Version   int64
	Stored    int
	Duplicate bool
}

func post(t *testing.T, url string, body []byte, hdr map[string]string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{Status: resp.StatusCode, Raw: string(raw)}
	json.Unmarshal(raw, &a.Body)
	if v, ok := a.Body["version"].(float64); ok {
		a.Version = int64(v)
	}
	if v, ok := a.Body["stored"].(float64); ok {
		a.Stored = int(v)
	}
	a.Duplicate, _ = a.Body["duplicate"].(bool)
	return a
}

func batch(systemID string, recs any) []byte {
	b, _ := json.Marshal(map[string]any{"system_id": systemID, "records": recs})
	return b
}

func memories(n int, seed uint64) []schemas.Memory {
	recs := gen.Memories(seed, n, 1, 1)
	for i := range recs {
		recs[i].SystemID = ""
		recs[i].CreatedAt = time.Now().UTC().Add(-time.Hour)
	}
	return recs
}

// rows counts the records the lake holds for a table, from a fresh read of the log.
func rows(t *testing.T, l *lake.Lake, table string) (version int64, n int64) {
	t.Helper()
	tbl, _ := l.Table(table)
	snap, err := tbl.Log.Snapshot(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range snap.Files() {
		st, err := f.ParsedStats()
		if err != nil {
			t.Fatal(err)
		}
		n += st.NumRecords
	}
	return snap.Version, n
}

func TestIngestMemoriesJSON(t *testing.T) {
	s := start(t)
	a := post(t, s.URL+"/v1/memories", batch("sys-a", memories(10, 1)), nil)
	if a.Status != 200 || a.Body["status"] != "completed" || a.Stored != 10 || a.Body["failed"].(float64) != 0 {
		t.Fatalf("answer %d %s", a.Status, a.Raw)
	}
	v, n := rows(t, s.lake, schemas.TableMemories)
	if n != 10 || v != a.Version {
		t.Errorf("lake holds %d records at version %d; answer said version %d", n, v, a.Version)
	}
}

func TestIngestEncodings(t *testing.T) {
	s := start(t)
	recs := memories(6, 2)
	var nd bytes.Buffer
	for i := range recs {
		recs[i].SystemID = "sys-nd"
		line, _ := json.Marshal(recs[i])
		nd.Write(line)
		nd.WriteString("\n\n") // blank lines are skipped
	}
	gz := func(b []byte) []byte {
		var out bytes.Buffer
		w := gzip.NewWriter(&out)
		w.Write(b)
		w.Close()
		return out.Bytes()
	}
	zs := func(b []byte) []byte {
		w, _ := zstd.NewWriter(nil)
		return w.EncodeAll(b, nil)
	}
	b64 := memories(3, 3)
	var b64recs []map[string]any
	for _, m := range b64 {
		raw, _ := json.Marshal(m)
		var obj map[string]any
		json.Unmarshal(raw, &obj)
		delete(obj, "embedding")
		obj["embedding_b64"] = schemas.EncodeEmbeddingB64(m.Embedding)
		b64recs = append(b64recs, obj)
	}
	cases := []struct {
		name string
		body []byte
		hdr  map[string]string
		want int
	}{
		{"ndjson", nd.Bytes(), map[string]string{"Content-Type": "application/x-ndjson"}, 6},
		{"json gzip", gz(batch("sys-gz", memories(4, 4))), map[string]string{"Content-Encoding": "gzip"}, 4},
		{"json zstd", zs(batch("sys-zs", memories(5, 5))), map[string]string{"Content-Encoding": "zstd"}, 5},
		{"ndjson zstd", zs(nd.Bytes()), map[string]string{"Content-Type": "application/x-ndjson", "Content-Encoding": "zstd"}, 6},
		{"embedding_b64", batch("sys-b64", b64recs), nil, 3},
	}
	total := int64(0)
	for _, c := range cases {
		a := post(t, s.URL+"/v1/memories", c.body, c.hdr)
		if a.Status != 200 || a.Stored != c.want {
			t.Errorf("%s: %d %s", c.name, a.Status, a.Raw)
		}
		total += int64(c.want)
	}
	if _, n := rows(t, s.lake, schemas.TableMemories); n != total {
		t.Errorf("lake holds %d records, want %d", n, total)
	}
}

// A partial batch stores the valid records and reports the others by index.
func TestPartialBatch(t *testing.T) {
	s := start(t)
	recs := memories(5, 6)
	recs[1].Embedding = recs[1].Embedding[:10]
	recs[3].Content = ""
	a := post(t, s.URL+"/v1/memories", batch("sys-p", recs), nil)
	if a.Status != 200 || a.Body["status"] != "partial" || a.Stored != 3 {
		t.Fatalf("answer %d %s", a.Status, a.Raw)
	}
	errs := a.Body["errors"].([]any)
	if len(errs) != 2 || errs[0].(map[string]any)["index"].(float64) != 1 || errs[1].(map[string]any)["index"].(float64) != 3 {
		t.Errorf("errors = %v", errs)
	}
	if !strings.Contains(errs[0].(map[string]any)["error"].(string), "384") {
		t.Errorf("embedding error does not say what is wanted: %v", errs[0])
	}
	if _, n := rows(t, s.lake, schemas.TableMemories); n != 3 {
		t.Errorf("lake holds %d, want 3", n)
	}
}

// Every bad input gets its documented status and changes nothing.
func TestBadInputsChangeNothing(t *testing.T) {
	s := startOn(t, testenv.S3(t), auth.Config{Disabled: true}, ingest.Config{MaxBodyBytes: 1 << 20, MaxRecords: 50})
	ok := memories(1, 7)[0]
	rec := func(mut func(m map[string]any)) []byte {
		raw, _ := json.Marshal(ok)
		var m map[string]any
		json.Unmarshal(raw, &m)
		mut(m)
		return batch("sys-bad", []any{m})
	}
	nanVec := strings.Repeat("0.1,", 383) + "NaN"
	cases := []struct {
		name   string
		body   []byte
		hdr    map[string]string
		status int
		code   string
	}{
		{"malformed json", []byte(`{"system_id":"x","records":[{"id":`), nil, 400, "malformed_json"},
		{"not an object", []byte(`[1,2,3]`), nil, 400, "malformed_json"},
		{"no records", []byte(`{"system_id":"x"}`), nil, 400, "malformed_json"},
		{"empty records", []byte(`{"system_id":"x","records":[]}`), nil, 400, "empty_batch"},
		{"trailing garbage", append(batch("x", []any{}), []byte("xyz")...), nil, 400, "malformed_json"},
		{"wrong embedding size", rec(func(m map[string]any) { m["embedding"] = []float64{1, 2, 3} }), nil, 422, ""},
		{"NaN literal", []byte(`{"system_id":"x","records":[{"id":"a","content":"c","created_at":"2026-01-01T00:00:00Z","embedding":[` + nanVec + `]}]}`), nil, 400, "malformed_json"}, // NaN is not JSON
		{"huge float", rec(func(m map[string]any) {
			e := m["embedding"].([]any)
			e[0] = 1e300
		}), nil, 422, ""},
		{"embedding and b64", rec(func(m map[string]any) { m["embedding_b64"] = schemas.EncodeEmbeddingB64(ok.Embedding) }), nil, 422, ""},
		{"bad b64", rec(func(m map[string]any) { delete(m, "embedding"); m["embedding_b64"] = "!!!" }), nil, 422, ""},
		{"system id charset", batch("../etc", []any{map[string]any{"id": "a", "content": "c", "created_at": "2026-01-01T00:00:00Z"}}), nil, 422, ""},
		{"path trick id", rec(func(m map[string]any) { m["id"] = "../../x" }), nil, 422, ""},
		{"slash in id", rec(func(m map[string]any) { m["id"] = "a/b" }), nil, 422, ""},
		{"control char id", rec(func(m map[string]any) { m["id"] = "a\x01b" }), nil, 422, ""},
		{"id too long", rec(func(m map[string]any) { m["id"] = strings.Repeat("x", 201) }), nil, 422, ""},
		{"missing content", rec(func(m map[string]any) { delete(m, "content") }), nil, 422, ""},
		{"content too large", rec(func(m map[string]any) { m["content"] = strings.Repeat("x", 1<<20+1) }), nil, 413, "body_too_large"},
		{"bad kind", rec(func(m map[string]any) { m["kind"] = "diary" }), nil, 422, ""},
		{"bad created_at", rec(func(m map[string]any) { m["created_at"] = "yesterday" }), nil, 422, ""},
		{"absurd created_at", rec(func(m map[string]any) { m["created_at"] = "1970-01-01T00:00:00Z" }), nil, 422, ""},
		{"future created_at", rec(func(m map[string]any) { m["created_at"] = "2999-01-01T00:00:00Z" }), nil, 422, ""},
		{"importance > 1", rec(func(m map[string]any) { m["importance"] = 1.5 }), nil, 422, ""},
		{"metadata not object", rec(func(m map[string]any) { m["metadata"] = []int{1} }), nil, 422, ""},
		{"system id mismatch", rec(func(m map[string]any) { m["system_id"] = "other" }), nil, 422, ""},
		{"too many records", batch("x", make([]map[string]any, 51)), nil, 413, "too_many_records"},
		{"body too large", batch("x", []any{map[string]any{"content": strings.Repeat("y", 2<<20)}}), nil, 413, "body_too_large"},
		{"unknown encoding", batch("x", []any{}), map[string]string{"Content-Encoding": "br"}, 415, ""},
		{"corrupt gzip", []byte("not gzip"), map[string]string{"Content-Encoding": "gzip"}, 400, ""},
		{"wrong content type", batch("x", []any{}), map[string]string{"Content-Type": "text/plain"}, 415, "unsupported_media_type"},
		{"bad idempotency key", batch("x", []any{ok}), map[string]string{"Idempotency-Key": "has space"}, 400, "invalid_idempotency_key"},
	}
	v0, n0 := rows(t, s.lake, schemas.TableMemories)
	for _, c := range cases {
		a := post(t, s.URL+"/v1/memories", c.body, c.hdr)
		if a.Status != c.status {
			t.Errorf("%s: status %d, want %d: %.300s", c.name, a.Status, c.status, a.Raw)
			continue
		}
		if c.code != "" {
			e, _ := a.Body["error"].(map[string]any)
			if e == nil || e["code"] != c.code {
				t.Errorf("%s: body %.300s, want error code %s", c.name, a.Raw, c.code)
			}
		}
		if c.status == 422 && a.Body["status"] != "failed" {
			t.Errorf("%s: 422 without status failed: %.300s", c.name, a.Raw)
		}
	}
	if v, n := rows(t, s.lake, schemas.TableMemories); v != v0 || n != n0 {
		t.Errorf("bad inputs changed the lake: version %d -> %d, records %d -> %d", v0, v, n0, n)
	}
	_ = math.NaN
}

// Concurrent requests share commits: fewer versions than requests, every
// record stored once, each request acknowledged with the version holding it.
func TestGroupCommit(t *testing.T) {
	s := startOn(t, testenv.S3(t), auth.Config{Disabled: true}, ingest.Config{GroupWait: 50 * time.Millisecond})
	v0, _ := rows(t, s.lake, schemas.TableMemories)
	const clients = 16
	var wg sync.WaitGroup
	versions := make([]int64, clients)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			a := post(t, s.URL+"/v1/memories", batch(fmt.Sprintf("sys-%d", c%3), memories(5, uint64(100+c))), nil)
			if a.Status != 200 {
				t.Errorf("client %d: %d %s", c, a.Status, a.Raw)
			}
			versions[c] = a.Version
		}(c)
	}
	wg.Wait()
	v, n := rows(t, s.lake, schemas.TableMemories)
	if n != clients*5 {
		t.Errorf("lake holds %d records, want %d", n, clients*5)
	}
	if commits := v - v0; commits >= clients {
		t.Errorf("%d commits for %d concurrent requests: no grouping", commits, clients)
	}
	for c, ver := range versions {
		if ver <= v0 || ver > v {
			t.Errorf("client %d acknowledged at version %d, outside (%d, %d]", c, ver, v0, v)
		}
	}
}

// An Idempotency-Key gives exactly-once across processes: two ingest
// processes on one S3 lake, each key retried against both, land once.
func TestIdempotencyAcrossProcesses(t *testing.T) {
	store := testenv.S3(t)
	a := startOn(t, store, auth.Config{Disabled: true}, ingest.Config{})
	b := startOn(t, store, auth.Config{Disabled: true}, ingest.Config{})
	const keys = 6
	bodies := make([][]byte, keys)
	for k := range bodies {
		bodies[k] = batch("sys-idem", memories(4, uint64(200+k)))
	}
	var wg sync.WaitGroup
	results := make([][]answer, keys)
	var mu sync.Mutex
	for k := 0; k < keys; k++ {
		for _, srv := range []*server{a, b, a, b} {
			wg.Add(1)
			go func(k int, url string) {
				defer wg.Done()
				ans := post(t, url+"/v1/memories", bodies[k], map[string]string{"Idempotency-Key": fmt.Sprintf("key-%d", k)})
				mu.Lock()
				results[k] = append(results[k], ans)
				mu.Unlock()
			}(k, srv.URL)
		}
	}
	wg.Wait()
	for k, rs := range results {
		fresh := 0
		for _, r := range rs {
			if r.Status != 200 || r.Stored != 4 {
				t.Errorf("key %d: %d %s", k, r.Status, r.Raw)
			}
			if !r.Duplicate {
				fresh++
			}
			if r.Version != rs[0].Version && rs[0].Version > 0 && r.Version > 0 {
				// Every answer names the version that holds the records.
				if !(r.Duplicate || rs[0].Duplicate) {
					t.Errorf("key %d: versions %d and %d", k, r.Version, rs[0].Version)
				}
			}
		}
		if fresh != 1 {
			t.Errorf("key %d: %d non-duplicate answers, want 1: %+v", k, fresh, rs)
		}
	}
	if _, n := rows(t, a.lake, schemas.TableMemories); n != keys*4 {
		t.Errorf("lake holds %d records, want %d (each key once)", n, keys*4)
	}
	// The same key with another body is a conflict, and writes nothing.
	v0, _ := rows(t, a.lake, schemas.TableMemories)
	ans := post(t, b.URL+"/v1/memories", bodies[1], map[string]string{"Idempotency-Key": "key-0"})
	if ans.Status != 409 {
		t.Errorf("reused key with another body: %d %s", ans.Status, ans.Raw)
	}
	if v, _ := rows(t, a.lake, schemas.TableMemories); v != v0 {
		t.Errorf("a 409 changed the lake: %d -> %d", v0, v)
	}
}

func TestAuth(t *testing.T) {
	s := startOn(t, testenv.S3(t), auth.Config{JWTSecret: []byte(secret)}, ingest.Config{})
	tok := func(role string, systems ...string) map[string]string {
		tk, err := auth.IssueToken([]byte(secret), "tester", role, systems, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{"Authorization": "Bearer " + tk}
	}
	body := batch("sys-auth", memories(2, 9))
	cases := []struct {
		name   string
		hdr    map[string]string
		status int
	}{
		{"no credentials", nil, 401},
		{"garbage token", map[string]string{"Authorization": "Bearer nope"}, 401},
		{"viewer", tok(auth.RoleViewer), 403},
		{"operator limited to another system", tok(auth.RoleOperator, "sys-other"), 403},
		{"operator limited to this system", tok(auth.RoleOperator, "sys-auth"), 200},
		{"admin", tok(auth.RoleAdmin), 200},
	}
	for _, c := range cases {
		if a := post(t, s.URL+"/v1/memories", body, c.hdr); a.Status != c.status {
			t.Errorf("%s: %d, want %d: %s", c.name, a.Status, c.status, a.Raw)
		}
	}
	if _, n := rows(t, s.lake, schemas.TableMemories); n != 4 {
		t.Errorf("lake holds %d records, want 4 (two allowed requests)", n)
	}
}

func TestEntitiesAndRelations(t *testing.T) {
	s := start(t)
	now := time.Now().UTC().Format(time.RFC3339)
	ents := []map[string]any{
		{"id": "e1", "name": "Akosha", "entity_type": "project", "observations": []string{"a lake"}, "properties": map[string]any{"lang": "go"}, "created_at": now},
		{"id": "e2", "name": "DuckDB", "entity_type": "library", "created_at": now},
	}
	if a := post(t, s.URL+"/v1/entities", batch("sys-kg", ents), nil); a.Status != 200 || a.Stored != 2 {
		t.Fatalf("entities: %d %s", a.Status, a.Raw)
	}
	rels := []map[string]any{{"id": "r1", "from_entity": "Akosha", "to_entity": "DuckDB", "relation_type": "uses", "created_at": now}}
	if a := post(t, s.URL+"/v1/relations", batch("sys-kg", rels), nil); a.Status != 200 || a.Stored != 1 {
		t.Fatalf("relations: %d %s", a.Status, a.Raw)
	}
	if _, n := rows(t, s.lake, schemas.TableEntities); n != 2 {
		t.Errorf("%d entities", n)
	}
	if _, n := rows(t, s.lake, schemas.TableRelations); n != 1 {
		t.Errorf("%d relations", n)
	}
}

func TestStatus(t *testing.T) {
	s := start(t)
	resp, err := http.Get(s.URL + "/status")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /status: %v %v", resp, err)
	}
	resp.Body.Close()
}
