package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake/storage"
)

// TestSessionBuddyAgainstServe replays one Session-Buddy 0.23.0 sync
// (storage/akosha_sync.py HttpSyncMethod: _fetch_* read its DuckDB files,
// _serialize_* build the tool arguments, _call_mcp_tool posts them) against
// `akosha serve` with auth on, the API key in the endpoint URL's userinfo as
// its settings carry it. Then it uploads the same two DuckDB files as
// CloudSyncMethod does and runs `akosha job import` into a second lake, and
// checks that both lakes hold the same rows, field by field.
//
// The DuckDB files are written as Session-Buddy writes them on a machine in
// America/New_York: datetime.now(UTC) into plain TIMESTAMP columns, which
// DuckDB stores as local wall-clock time. Both paths read that wall clock
// as UTC (README, "Connect Session-Buddy").
func TestSessionBuddyAgainstServe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pushLake, importLake := s3LakeURL(t), s3LakeURL(t)
	srcCfg := testenv.S3Config(t)
	src, err := storage.NewS3(ctx, srcCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AKOSHA_CACHE_DIR", t.TempDir())

	refl, kg := writeSessionBuddyDBs(t, t.TempDir())

	// Push: akosha serve with auth on; the client knows only its endpoint.
	const key = "laptop-key-0123456789abcdef"
	t.Setenv("AKOSHA_API_KEYS", "sb-laptop:operator:"+key+":laptop-ny")
	addr := serveInProcess(ctx, t, pushLake)
	endpoint := "http://sb-laptop:" + key + "@" + addr + "/mcp"
	pushSync(t, endpoint, refl, kg)

	// Without the key, nothing gets in.
	resp, err := http.Post("http://"+addr+"/mcp/mcp/v1", "application/json", strings.NewReader(`{}`))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no credentials: %v %v", resp, err)
	}
	resp.Body.Close()

	// Import: the same files, uploaded as CloudSyncMethod uploads them.
	uploadSessionBuddy(t, src, "laptop-ny", refl, kg)
	out, err := run(t, "job", "import", "--lake", importLake, "--source", "s3://"+srcCfg.Bucket+"/"+srcCfg.Prefix)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}

	queries := map[string]string{
		"memories": `SELECT system_id, id, kind, content, embedding, created_at, project, namespace, session_id, user_id,
			category, subcategory, tags, importance, source_type, metadata, tier, day FROM memories ORDER BY id`,
		// updated_at and the embedding: the push does not send them (README).
		"entities":  `SELECT system_id, id, name, entity_type, observations, properties, created_at FROM entities ORDER BY id`,
		"relations": `SELECT system_id, id, from_entity, to_entity, relation_type, properties, created_at FROM relations ORDER BY id`,
	}
	for table, q := range queries {
		pushed, imported := sqlRows(t, pushLake, q), sqlRows(t, importLake, q)
		if len(pushed) == 0 || len(pushed) != len(imported) {
			t.Fatalf("%s: %d rows pushed, %d imported", table, len(pushed), len(imported))
		}
		for i := range pushed {
			for col := range pushed[i] {
				p, m := pushed[i][col], imported[i][col]
				if col == "metadata" || col == "properties" {
					p, m = withoutIngestionMethod(t, p, "http_push"), withoutIngestionMethod(t, m, "s3_import")
				}
				if !reflect.DeepEqual(p, m) {
					t.Errorf("%s %v: %s pushed %v, imported %v", table, pushed[i]["id"], col, p, m)
				}
			}
		}
		if table == "memories" {
			checkSessionBuddyMemories(t, pushed)
		}
	}
}

// checkSessionBuddyMemories checks the pushed rows (equal to the imported
// ones) against the fixture.
func checkSessionBuddyMemories(t *testing.T, rows []map[string]any) {
	t.Helper()
	byID := map[string]map[string]any{}
	for _, r := range rows {
		byID[r["id"].(string)] = r
	}
	// N,X,N,N: only conv-1 has the optional strings, and conv-0, -2, -3
	// hold NULL in every one of them, in one batch.
	for _, id := range []string{"conv-0", "conv-1", "conv-2", "conv-3"} {
		for _, col := range []string{"project", "session_id", "subcategory", "source_type", "category", "namespace", "user_id"} {
			if v := byID[id][col]; (id == "conv-1") != (v != nil) {
				t.Errorf("%s %s = %v", id, col, v)
			}
		}
	}
	c1 := byID["conv-1"]
	// 14:01 UTC written in New York is 10:01 local, read as UTC.
	if c1["created_at"] != "2026-06-01T10:01:00.123456Z" || c1["importance"] != 0.9 ||
		c1["content"] != "fixed the parser\n\nReasoning: naive timestamps" || c1["system_id"] != "laptop-ny" {
		t.Errorf("conv-1: %v", c1)
	}
	if m := c1["metadata"]; !reflect.DeepEqual(m, map[string]any{"ingestion_method": "http_push", "memory_tier": "long_term"}) {
		t.Errorf("conv-1 metadata %v", m)
	}
	r0 := byID["refl-0"]
	if r0["project"] != nil || r0["category"] != nil || r0["tags"] != nil || r0["kind"] != "reflection" {
		t.Errorf("refl-0 (nulls sent as None): %v", r0)
	}
	if m := r0["metadata"]; !reflect.DeepEqual(m, map[string]any{"ingestion_method": "http_push"}) {
		t.Errorf("refl-0 metadata %v: a field sent as null must not appear", m)
	}
}

// withoutIngestionMethod decodes a metadata or properties column, checks its
// ingestion_method (the one key that says which path wrote the row) and
// drops it.
func withoutIngestionMethod(t *testing.T, v any, want string) any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Errorf("metadata %v is not a JSON object", v)
		return v
	}
	m = maps.Clone(m)
	if m["ingestion_method"] != want {
		t.Errorf("ingestion_method %v, want %s", m["ingestion_method"], want)
	}
	delete(m, "ingestion_method")
	return m
}

// s3LakeURL is a fresh lake on the test S3 server, as akosha's --lake names it.
func s3LakeURL(t *testing.T) string {
	t.Helper()
	cfg := testenv.S3Config(t)
	t.Setenv("AKOSHA_S3_ENDPOINT", cfg.Endpoint)
	t.Setenv("AKOSHA_S3_REGION", cfg.Region)
	testenv.S3(t) // creates the bucket when missing
	return "s3://" + cfg.Bucket + "/" + cfg.Prefix
}

// serveInProcess runs `akosha serve` (auth on) until the test ends and
// returns its host:port once /health answers.
func serveInProcess(ctx context.Context, t *testing.T, lakeURL string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs([]string{"serve", "--addr", addr, "--lake", lakeURL})
		done <- root.ExecuteContext(sctx)
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("akosha serve: %v", err)
		}
	})
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get("http://" + addr + "/health/readiness")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return addr
			}
		}
		select {
		case err := <-done:
			t.Fatalf("akosha serve exited: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("akosha serve did not become ready within a minute")
		}
	}
}

// sqlRows runs a query with `akosha sql --format ndjson`.
func sqlRows(t *testing.T, lakeURL, q string) []map[string]any {
	t.Helper()
	out, err := run(t, "sql", "--lake", lakeURL, "--format", "ndjson", q)
	if err != nil {
		t.Fatalf("sql: %v\n%s", err, out)
	}
	var rows []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("ndjson line %q: %v", sc.Text(), err)
		}
		rows = append(rows, r)
	}
	return rows
}

// Session-Buddy's tables, with the columns its push reads (types as
// schema_v2.py and the knowledge-graph adapter declare them).
var sbDDL = map[string][]string{
	"reflection.duckdb": {
		`CREATE TABLE conversations_v2 (id TEXT PRIMARY KEY, content TEXT NOT NULL, embedding FLOAT[384],
			category TEXT, subcategory TEXT, importance_score REAL DEFAULT 0.5, memory_tier TEXT,
			access_count INTEGER DEFAULT 0, last_accessed TIMESTAMP, project TEXT, namespace TEXT,
			timestamp TIMESTAMP, session_id TEXT, user_id TEXT, searchable_content TEXT, reasoning TEXT,
			source_type TEXT)`,
		`CREATE TABLE reflections_v2 (id TEXT PRIMARY KEY, content TEXT NOT NULL, embedding FLOAT[384],
			category TEXT, importance_score REAL DEFAULT 0.5, memory_tier TEXT, tags TEXT[],
			related_entities TEXT[], timestamp TIMESTAMP, project TEXT, namespace TEXT,
			access_count INTEGER DEFAULT 0, last_accessed TIMESTAMP)`,
		// Written at 14:0x UTC by a machine in New York (EDT, UTC-4).
		`SET TimeZone = 'America/New_York'`,
		`INSERT INTO conversations_v2 (id, content, embedding, category, subcategory, importance_score, memory_tier,
			project, namespace, timestamp, session_id, user_id, searchable_content, reasoning, source_type) VALUES
			('conv-0', 'first', [0.5 for x in range(384)], NULL, NULL, 0.5, 'long_term', NULL, NULL,
			 TIMESTAMPTZ '2026-06-01 14:00:00+00', NULL, NULL, 'first', NULL, NULL),
			('conv-1', 'fixed the parser', [0.25 for x in range(384)], 'context', 'parsing', 0.9, 'long_term', 'akosha', 'default',
			 TIMESTAMPTZ '2026-06-01 14:01:00.123456+00', 'sess-1', 'les', 'fixed the parser', 'naive timestamps', 'claude_code'),
			('conv-2', 'third', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
			 TIMESTAMPTZ '2026-06-01 14:02:00+00', NULL, NULL, NULL, '', NULL),
			('conv-3', 'fourth', NULL, NULL, NULL, 0.7, 'short_term', NULL, NULL,
			 TIMESTAMPTZ '2026-06-01 14:03:00+00', NULL, NULL, NULL, NULL, NULL)`,
		`INSERT INTO reflections_v2 (id, content, embedding, category, importance_score, memory_tier, tags,
			related_entities, timestamp, project, namespace) VALUES
			('refl-0', 'always run the race detector', NULL, NULL, 0.8, NULL, NULL, NULL,
			 TIMESTAMPTZ '2026-06-01 15:00:00+00', NULL, 'default'),
			('refl-1', 'keep nulls null', [0.125 for x in range(384)], 'lessons', 0.9, 'long_term', ['go', 'parquet'],
			 ['ent-1'], TIMESTAMPTZ '2026-06-01 15:01:00+00', 'akosha', 'default')`,
	},
	"knowledge_graph.duckdb": {
		`CREATE TABLE kg_entities (id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, entity_type VARCHAR NOT NULL,
			observations VARCHAR[], properties JSON, created_at TIMESTAMP, updated_at TIMESTAMP, metadata JSON,
			embedding FLOAT[384])`,
		`CREATE TABLE kg_relationships (id VARCHAR PRIMARY KEY, from_entity VARCHAR NOT NULL, to_entity VARCHAR NOT NULL,
			relation_type VARCHAR NOT NULL, properties JSON, created_at TIMESTAMP, updated_at TIMESTAMP, metadata JSON)`,
		`SET TimeZone = 'America/New_York'`,
		`INSERT INTO kg_entities VALUES
			('ent-1', 'DuckDB', 'technology', ['embedded', 'columnar'], '{"lang": "c++", "stars": 30000}',
			 TIMESTAMPTZ '2026-06-01 13:00:00+00', TIMESTAMPTZ '2026-06-01 13:30:00+00', '{"origin": "extraction"}', NULL),
			('ent-2', 'Akosha', 'project', NULL, NULL, TIMESTAMPTZ '2026-06-01 13:05:00+00', NULL, NULL, NULL)`,
		`INSERT INTO kg_relationships VALUES
			('rel-1', 'ent-2', 'ent-1', 'uses', '{"since": "2026"}', TIMESTAMPTZ '2026-06-01 13:10:00+00',
			 TIMESTAMPTZ '2026-06-01 13:10:00+00', '{}')`,
	},
}

func writeSessionBuddyDBs(t *testing.T, dir string) (refl, kg string) {
	t.Helper()
	for name, stmts := range sbDDL {
		db, err := sql.Open("duckdb", filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1) // SET TimeZone holds for the one connection
		for _, s := range stmts {
			if _, err := db.Exec(s); err != nil {
				t.Fatalf("%s: %v\n%s", name, err, s)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "reflection.duckdb"), filepath.Join(dir, "knowledge_graph.duckdb")
}

// uploadSessionBuddy puts both databases, gzipped, and then the manifest, as
// CloudSyncMethod does.
func uploadSessionBuddy(t *testing.T, s *storage.S3, sid, refl, kg string) {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2026, 6, 1, 16, 0, 0, 0, time.UTC)
	uid := at.Format("20060102_150405") + "_" + sid
	prefix := "systems/" + sid + "/uploads/" + uid + "/"
	var files []map[string]any
	for _, p := range []string{refl, kg} {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(raw)
		zw.Close()
		name := filepath.Base(p)
		if err := s.Put(ctx, prefix+name, bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
			t.Fatal(err)
		}
		files = append(files, map[string]any{"name": name, "path": prefix + name, "size_bytes": buf.Len(),
			"compression": "gzip", "checksum": ""})
	}
	m, _ := json.Marshal(map[string]any{"upload_id": uid, "system_id": sid,
		"timestamp": at.Format("2006-01-02T15:04:05") + "+00:00", "files": files,
		"metadata": map[string]any{"uploader": "session-buddy", "version": "0.23.0"}})
	if err := s.Put(ctx, prefix+"manifest.json", bytes.NewReader(m), int64(len(m))); err != nil {
		t.Fatal(err)
	}
}

// pushSync does what HttpSyncMethod.sync does with the default batch size:
// the reachability check, one batch_store_memories of the conversations,
// store_reflection per reflection, create_entity and create_relation per
// row, each a tools/call to {endpoint}/mcp/v1.
func pushSync(t *testing.T, endpoint, refl, kg string) {
	t.Helper()
	resp, err := http.Get(endpoint + "/status")
	if err != nil || resp.StatusCode >= 500 {
		t.Fatalf("GET %s/status: %v %v", endpoint, resp, err)
	}
	resp.Body.Close()

	rdb := openReadOnly(t, refl)
	var memories []any
	for _, c := range queryMaps(t, rdb, `SELECT id, content, embedding, category, subcategory, importance_score, memory_tier,
		access_count, last_accessed, project, namespace, timestamp, session_id, user_id, searchable_content, reasoning,
		source_type FROM conversations_v2 ORDER BY timestamp DESC LIMIT 1000`) {
		// _serialize_conversation
		text := c["content"].(string)
		if r, _ := c["reasoning"].(string); r != "" {
			text += "\n\nReasoning: " + r
		}
		meta := map[string]any{"source": "laptop-ny", "original_id": c["id"], "type": "conversation",
			"category": c["category"], "subcategory": c["subcategory"], "importance_score": c["importance_score"],
			"memory_tier": c["memory_tier"], "source_type": c["source_type"], "project": c["project"],
			"namespace": c["namespace"], "session_id": c["session_id"], "user_id": c["user_id"],
			"created_at": c["timestamp"], "ingestion_method": "http_push"}
		for k, v := range meta {
			if v == nil { // "Remove None values"
				delete(meta, k)
			}
		}
		memories = append(memories, map[string]any{"memory_id": c["id"], "text": text, "embedding": c["embedding"], "metadata": meta})
	}
	if res := callTool(t, endpoint, "batch_store_memories", map[string]any{"memories": memories}); res["status"] != "completed" {
		t.Fatalf("batch_store_memories: %v", res)
	}
	for _, r := range queryMaps(t, rdb, `SELECT id, content, embedding, category, importance_score, memory_tier, tags,
		related_entities, timestamp, project, namespace, access_count, last_accessed FROM reflections_v2
		ORDER BY timestamp DESC LIMIT 500`) {
		// _serialize_reflection keeps None values; tags and related
		// entities are [] when NULL.
		args := map[string]any{"reflection_id": r["id"], "content": r["content"], "embedding": r["embedding"],
			"metadata": map[string]any{"source": "laptop-ny", "original_id": r["id"], "type": "reflection",
				"category": r["category"], "importance_score": r["importance_score"], "memory_tier": r["memory_tier"],
				"tags": orEmpty(r["tags"]), "related_entities": orEmpty(r["related_entities"]), "project": r["project"],
				"namespace": r["namespace"], "created_at": r["timestamp"], "ingestion_method": "http_push"}}
		if res := callTool(t, endpoint, "store_reflection", args); res["status"] != "stored" {
			t.Fatalf("store_reflection %v: %v", r["id"], res)
		}
	}
	kdb := openReadOnly(t, kg)
	for _, e := range queryMaps(t, kdb, `SELECT id, name, entity_type, observations, properties, created_at, updated_at,
		metadata, embedding FROM kg_entities ORDER BY updated_at DESC LIMIT 500`) {
		// _serialize_entity
		props := jsonOrEmpty(t, e["properties"])
		props["source_system"], props["original_id"], props["created_at"], props["ingestion_method"] =
			"laptop-ny", e["id"], e["created_at"], "http_push"
		args := map[string]any{"name": e["name"], "entity_type": e["entity_type"], "observations": orEmpty(e["observations"]),
			"properties": props, "metadata": jsonOrEmpty(t, e["metadata"])}
		if res := callTool(t, endpoint, "create_entity", args); res["id"] != e["id"] {
			t.Fatalf("create_entity %v: %v", e["id"], res)
		}
	}
	for _, r := range queryMaps(t, kdb, `SELECT id, from_entity, to_entity, relation_type, properties, created_at,
		updated_at, metadata FROM kg_relationships ORDER BY updated_at DESC LIMIT 500`) {
		props := jsonOrEmpty(t, r["properties"])
		props["source_system"], props["original_id"], props["created_at"], props["ingestion_method"] =
			"laptop-ny", r["id"], r["created_at"], "http_push"
		args := map[string]any{"from_entity": r["from_entity"], "to_entity": r["to_entity"], "relation_type": r["relation_type"],
			"properties": props, "metadata": jsonOrEmpty(t, r["metadata"])}
		if res := callTool(t, endpoint, "create_relation", args); res["id"] != r["id"] {
			t.Fatalf("create_relation %v: %v", r["id"], res)
		}
	}
}

// callTool is _call_mcp_tool: POST {endpoint}/mcp/v1 with a tools/call; the
// URL's userinfo goes out as Basic auth, as httpx sends it.
func callTool(t *testing.T, endpoint, name string, args map[string]any) map[string]any {
	t.Helper()
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": fmt.Sprintf("%x", time.Now().UnixNano()),
		"method": "tools/call", "params": map[string]any{"name": name, "arguments": args}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(endpoint+"/mcp/v1", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Result map[string]any `json:"result"`
		Error  any            `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s: HTTP %d, %v", name, resp.StatusCode, err)
	}
	if out.Error != nil {
		t.Fatalf("%s: %v", name, out.Error)
	}
	return out.Result
}

func openReadOnly(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", path+"?access_mode=read_only")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// queryMaps reads rows as Python's duckdb client hands them to
// Session-Buddy: a TIMESTAMP as a naive datetime (here its isoformat()), a
// REAL widened to a double (0.9 -> 0.8999999761581421), a FLOAT[] as floats.
func queryMaps(t *testing.T, db *sql.DB, q string) []map[string]any {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []map[string]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		m := map[string]any{}
		for i, c := range cols {
			m[c] = pythonValue(vals[i])
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func pythonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		s := x.Format("2006-01-02T15:04:05")
		if us := x.Nanosecond() / 1000; us != 0 {
			s += fmt.Sprintf(".%06d", us)
		}
		return s
	case float32:
		return float64(x)
	case []any:
		if len(x) == 0 {
			return nil // Python: `list(row[i]) if row[i] else None`
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = pythonValue(e)
		}
		return out
	}
	return v
}

func orEmpty(v any) any {
	if v == nil {
		return []any{}
	}
	return v
}

// jsonOrEmpty is `json.loads(row[i]) if row[i] else {}`.
func jsonOrEmpty(t *testing.T, v any) map[string]any {
	t.Helper()
	if m, ok := v.(map[string]any); ok { // duckdb-go decodes JSON columns itself
		return m
	}
	s, _ := v.(string)
	m := map[string]any{}
	if s == "" {
		return m
	}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("json %q: %v", s, err)
	}
	return m
}
