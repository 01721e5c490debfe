package ingest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/functions/ingest"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// These tests replay what Session-Buddy 0.23.0 (lesleslie/session-buddy at
// a2e4633) sends: storage/akosha_sync.py's HttpSyncMethod (tools/call on
// {endpoint}/mcp/v1, GET {endpoint}/status) and sync.py's POST
// {AKOSHA_URL}/store_memory. The bodies are built here as its code builds
// them; cmd/akosha's TestSessionBuddyAgainstServe replays a whole sync
// against akosha serve and compares it with akosha job import.

// storedRow is a memories row as stored, with its partition's system.
type storedRow struct {
	system string
	schemas.MemoryRow
}

// storedRows reads every memory row of the lake, by id, as stored: its
// optional strings are nil for NULL, so that ” and NULL differ.
func storedRows(t *testing.T, l *lake.Lake) map[string]storedRow {
	t.Helper()
	tbl, _ := l.Table(schemas.TableMemories)
	snap, err := tbl.Refresh(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]storedRow{}
	for f := range snap.AllFiles() {
		b, err := storage.ReadAll(ctxT(t), l.Store(), schemas.TableMemories+"/"+f.Path)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := parquet.Read[schemas.MemoryRow](bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			out[r.ID] = storedRow{r.SystemID, r}
		}
	}
	return out
}

// memoryRows reads every memory of the lake, by id, as records.
func memoryRows(t *testing.T, l *lake.Lake) map[string]schemas.Memory {
	t.Helper()
	out := map[string]schemas.Memory{}
	for id, r := range storedRows(t, l) {
		out[id] = r.Memory()
	}
	return out
}

var optionalColumns = map[string]func(*schemas.MemoryRow) *string{
	"project": func(r *schemas.MemoryRow) *string { return r.Project }, "namespace": func(r *schemas.MemoryRow) *string { return r.Namespace },
	"session_id": func(r *schemas.MemoryRow) *string { return r.SessionID }, "user_id": func(r *schemas.MemoryRow) *string { return r.UserID },
	"category": func(r *schemas.MemoryRow) *string { return r.Category }, "subcategory": func(r *schemas.MemoryRow) *string { return r.Subcategory },
	"source_type": func(r *schemas.MemoryRow) *string { return r.SourceType },
}

// TestAbsentOptionalStringsStayNull: in one batch, through REST and through
// MCP's batch_store_memories, a record without an optional string stores
// NULL before and after one that has it (issue 14 saw NULL, 'v2', ”, ”).
// Each pattern is one request holding every optional column.
func TestAbsentOptionalStringsStayNull(t *testing.T) {
	s := start(t)
	patterns := []string{"NXN", "NXNN", "XN"}
	id := func(path, pattern string, i int) string { return fmt.Sprintf("%s-%s-%d", path, pattern, i) }
	for _, pattern := range patterns {
		var rest, sb []map[string]any
		for i, p := range pattern {
			rec := map[string]any{"id": id("rest", pattern, i), "content": "c", "created_at": "2026-11-20T10:00:00"}
			meta := map[string]any{"source": "sb-nulls", "type": "conversation", "created_at": "2026-11-20T10:00:00"}
			if p == 'X' {
				for col := range optionalColumns {
					rec[col] = fmt.Sprintf("v%d", i)
					meta[col] = fmt.Sprintf("v%d", i)
				}
			} else {
				// batch_store_memories drops None values; store_reflection
				// sends them: both must be NULL.
				meta["project"] = nil
			}
			rest = append(rest, rec)
			sb = append(sb, map[string]any{"memory_id": id("mcp", pattern, i), "text": "c", "metadata": meta})
		}
		if a := post(t, s.URL+"/v1/memories", batch("sb-nulls", rest), nil); a.Status != 200 || a.Stored != len(pattern) {
			t.Fatalf("REST %s: %d %s", pattern, a.Status, a.Raw)
		}
		res := toolCall(t, s.URL+"/mcp/mcp/v1", "", "batch_store_memories", map[string]any{"memories": sb})
		if res["status"] != "completed" {
			t.Fatalf("MCP %s: %v", pattern, res)
		}
	}
	got := storedRows(t, s.lake)
	for _, path := range []string{"rest", "mcp"} {
		for _, pattern := range patterns {
			for i, p := range pattern {
				r, ok := got[id(path, pattern, i)]
				if !ok {
					t.Fatalf("%s missing", id(path, pattern, i))
				}
				for col, get := range optionalColumns {
					v := get(&r.MemoryRow)
					if p == 'N' && v != nil {
						t.Errorf("%s %s row %d: %s = %q, want NULL", path, pattern, i, col, *v)
					}
					if p == 'X' && (v == nil || *v != fmt.Sprintf("v%d", i)) {
						t.Errorf("%s %s row %d: %s = %v, want v%d", path, pattern, i, col, v, i)
					}
				}
				if p == 'N' && r.Metadata != nil && strings.Contains(*r.Metadata, "project") {
					t.Errorf("%s %s row %d: metadata %s names project, sent as null", path, pattern, i, *r.Metadata)
				}
			}
		}
	}
}

// toolCall posts a tools/call as HttpSyncMethod._call_mcp_tool does and
// returns the JSON-RPC result (what the client reads its fields from).
func toolCall(t *testing.T, url, authz, name string, args map[string]any) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": "0123456789abcdef0123456789abcdef", "method": "tools/call",
		"params": map[string]any{"name": name, "arguments": args}})
	hdr := map[string]string{}
	if authz != "" {
		hdr["Authorization"] = authz
	}
	a := post(t, url, body, hdr)
	if a.Status != 200 {
		t.Fatalf("%s: HTTP %d %s", name, a.Status, a.Raw)
	}
	res, ok := a.Body["result"].(map[string]any)
	if !ok {
		t.Fatalf("%s: no result: %s", name, a.Raw)
	}
	return res
}

// TestSessionBuddyMapping: what the push sends lands as sent, with the
// mapping README describes.
func TestSessionBuddyMapping(t *testing.T) {
	s := start(t)
	mcpURL := s.URL + "/mcp/mcp/v1"
	// store_reflection keeps None values: project and category are null,
	// tags and related_entities empty; importance_score is the REAL 0.9 read
	// back as a Python float.
	res := toolCall(t, mcpURL, "", "store_reflection", map[string]any{
		"reflection_id": "r-1", "content": "always run the race detector", "embedding": nil,
		"metadata": map[string]any{"source": "sb-map", "original_id": "r-1", "type": "reflection", "category": nil,
			"importance_score": 0.8999999761581421, "memory_tier": "long_term", "tags": []any{}, "related_entities": []any{},
			"project": nil, "namespace": "default", "created_at": "2026-11-20T09:00:00.123456", "ingestion_method": "http_push"},
	})
	if res["status"] != "stored" || res["id"] != "r-1" {
		t.Fatalf("store_reflection: %v", res)
	}
	m := memoryRows(t, s.lake)["r-1"]
	if m.Project != "" || m.Category != "" || m.Tags != nil || m.Importance == nil || *m.Importance != 0.9 {
		t.Errorf("reflection: project %q category %q tags %v importance %v", m.Project, m.Category, m.Tags, *m.Importance)
	}
	var meta map[string]any
	if err := json.Unmarshal(m.Metadata, &meta); err != nil || len(meta) != 2 || meta["memory_tier"] != "long_term" || meta["ingestion_method"] != "http_push" {
		t.Errorf("reflection metadata %s, want memory_tier and ingestion_method only", m.Metadata)
	}

	// create_entity keeps metadata (under properties.metadata); the keys
	// that became fields leave properties.
	res = toolCall(t, mcpURL, "", "create_entity", map[string]any{
		"name": "DuckDB", "entity_type": "technology", "observations": []string{"embedded"},
		"properties": map[string]any{"lang": "c++", "source_system": "sb-map", "original_id": "ent-1",
			"created_at": "2026-11-20T08:00:00", "ingestion_method": "http_push"},
		"metadata": map[string]any{"origin": "extraction"},
	})
	if res["id"] != "ent-1" {
		t.Fatalf("create_entity: %v", res)
	}
	res = toolCall(t, mcpURL, "", "create_relation", map[string]any{
		"from_entity": "ent-1", "to_entity": "ent-2", "relation_type": "uses",
		"properties": map[string]any{"source_system": "sb-map", "original_id": "rel-1",
			"created_at": "2026-11-20T08:00:00", "ingestion_method": "http_push"},
		"metadata": map[string]any{"confidence": 0.5},
	})
	if res["id"] != "rel-1" {
		t.Fatalf("create_relation: %v", res)
	}
	for table, want := range map[string]string{
		schemas.TableEntities:  `{"ingestion_method":"http_push","lang":"c++","metadata":{"origin":"extraction"}}`,
		schemas.TableRelations: `{"ingestion_method":"http_push","metadata":{"confidence":0.5}}`,
	} {
		tbl, _ := s.lake.Table(table)
		snap, err := tbl.Refresh(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		for f := range snap.AllFiles() {
			b, err := storage.ReadAll(ctxT(t), s.lake.Store(), table+"/"+f.Path)
			if err != nil {
				t.Fatal(err)
			}
			var props *string
			if table == schemas.TableEntities {
				rows, err := parquet.Read[schemas.EntityRow](bytes.NewReader(b), int64(len(b)))
				if err != nil || len(rows) != 1 {
					t.Fatalf("entities: %v %v", rows, err)
				}
				props = rows[0].Properties
			} else {
				rows, err := parquet.Read[schemas.RelationRow](bytes.NewReader(b), int64(len(b)))
				if err != nil || len(rows) != 1 {
					t.Fatalf("relations: %v %v", rows, err)
				}
				props = rows[0].Properties
			}
			if props == nil || *props != want {
				t.Errorf("%s properties %v, want %s", table, props, want)
			}
		}
	}
}

// TestBatchWhereEveryRecordFails: Session-Buddy logs result["error"] for a
// batch that is neither completed nor partial; it must say why.
func TestBatchWhereEveryRecordFails(t *testing.T) {
	s := start(t)
	res := toolCall(t, s.URL+"/mcp/mcp/v1", "", "batch_store_memories", map[string]any{"memories": []any{
		map[string]any{"memory_id": "a", "text": "", "metadata": map[string]any{"source": "sb-fail", "created_at": "2026-11-20T10:00:00"}},
		map[string]any{"memory_id": "b", "text": "x", "metadata": map[string]any{"source": "sb-fail"}},
	}})
	msg, _ := res["error"].(string)
	if res["status"] != "failed" || !strings.Contains(msg, `record 0 (id "a")`) || !strings.Contains(msg, `record 1 (id "b")`) ||
		!strings.Contains(msg, "content") || !strings.Contains(msg, "created_at") {
		t.Errorf("all-failed batch: status %v, error %q", res["status"], msg)
	}
	if _, n := rows(t, s.lake, schemas.TableMemories); n != 0 {
		t.Errorf("%d rows stored", n)
	}
	// A partial batch has no top-level error: the client reads errors.
	res = toolCall(t, s.URL+"/mcp/mcp/v1", "", "batch_store_memories", map[string]any{"memories": []any{
		map[string]any{"memory_id": "c", "text": "x", "metadata": map[string]any{"source": "sb-fail", "created_at": "2026-11-20T10:00:00"}},
		map[string]any{"memory_id": "d", "text": "", "metadata": map[string]any{"source": "sb-fail", "created_at": "2026-11-20T10:00:00"}},
	}})
	if res["status"] != "partial" || res["error"] != nil {
		t.Errorf("partial batch: %v", res)
	}
}

// TestSessionBuddyPathsWithBasicAuth: the paths Session-Buddy derives from
// its endpoint, with auth on and the API key in the URL's userinfo (which
// httpx, like Go's client, sends as Basic auth).
func TestSessionBuddyPathsWithBasicAuth(t *testing.T) {
	keys, err := auth.ParseAPIKeys("sb-laptop:operator:laptop-key-0123456789:laptop-1,grafana:viewer:viewer-key-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	s := startOn(t, testenv.S3(t), auth.Config{APIKeys: keys}, ingest.Config{})
	basic := func(user, key string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+key))
	}
	laptop := basic("sb-laptop", "laptop-key-0123456789")

	// The reachability check: httpx.get(f"{url}/status").
	for _, p := range []string{"/status", "/mcp/status"} {
		resp, err := http.Get(s.URL + p)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", p, resp, err)
		}
		resp.Body.Close()
	}

	// Through the URL's userinfo, as the client's endpoint setting carries it.
	withKey := strings.Replace(s.URL, "http://", "http://sb-laptop:laptop-key-0123456789@", 1)
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": "1", "method": "tools/call", "params": map[string]any{
		"name": "batch_store_memories", "arguments": map[string]any{"memories": []any{map[string]any{
			"memory_id": "m-1", "text": "over basic auth",
			"metadata": map[string]any{"source": "laptop-1", "type": "conversation", "created_at": "2026-11-20T10:00:00"}}}}}})
	resp, err := http.Post(withKey+"/mcp/mcp/v1", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("tools/call with userinfo: %v %v", resp, err)
	}
	resp.Body.Close()

	// sync.py's store_memory: metadata.source is the instance's URL.
	plain := func(id, source string) []byte {
		b, _ := json.Marshal(map[string]any{"id": id, "text": "from sync.py", "embedding": nil,
			"metadata": map[string]any{"source": source, "original_id": id, "created_at": "2026-11-20T11:00:00+00:00", "type": "session_memory"}})
		return b
	}
	cases := []struct {
		name, path, authz, source string
		status                    int
	}{
		{"no credentials", "/store_memory", "", "laptop-1", 401},
		{"wrong key for the name", "/store_memory", basic("sb-laptop", "viewer-key-0123456789"), "laptop-1", 401},
		{"viewer", "/store_memory", basic("grafana", "viewer-key-0123456789"), "laptop-1", 403},
		{"scoped key, another system", "/mcp/store_memory", laptop, "desk-2", 403},
		{"scoped key, its system", "/store_memory", laptop, "laptop-1", 200},
		{"its system under /mcp", "/mcp/store_memory", laptop, "laptop-1", 200},
		{"a URL source names a system by host and port", "/store_memory", basic("sb-laptop", "laptop-key-0123456789"), "http://laptop-1", 200},
	}
	for i, c := range cases {
		hdr := map[string]string{}
		if c.authz != "" {
			hdr["Authorization"] = c.authz
		}
		if a := post(t, s.URL+c.path, plain(fmt.Sprintf("p-%d", i), c.source), hdr); a.Status != c.status {
			t.Errorf("%s: %d, want %d: %s", c.name, a.Status, c.status, a.Raw)
		}
	}
	got := memoryRows(t, s.lake)
	if len(got) != 4 {
		t.Errorf("%d memories stored, want 4", len(got))
	}
	if m := got["p-6"]; m.SystemID != "laptop-1" || !strings.Contains(string(m.Metadata), `"source_url":"http://laptop-1"`) ||
		!strings.Contains(string(m.Metadata), `"type":"session_memory"`) || m.Kind != schemas.KindMemory {
		t.Errorf("sync.py memory: %+v", m)
	}
	// A failed store is a 422 that says why (sync.py raise_for_status).
	a := post(t, s.URL+"/store_memory", []byte(`{"id": "x", "text": "", "metadata": {"source": "laptop-1", "created_at": "2026-11-20T10:00:00"}}`),
		map[string]string{"Authorization": laptop})
	if a.Status != 422 || !strings.Contains(fmt.Sprint(a.Body["error"]), "content") {
		t.Errorf("invalid memory: %d %s", a.Status, a.Raw)
	}
	if a := post(t, s.URL+"/store_memory", []byte(`{"id": `), map[string]string{"Authorization": laptop}); a.Status != 400 {
		t.Errorf("malformed body: %d %s", a.Status, a.Raw)
	}
}
