package importer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/lake/storage"
)

// Session-Buddy's table layouts, column for column and type for type, as its
// reflection adapter and knowledge-graph adapter create them (schema_v2.py
// SCHEMA_V2_SQL with the fingerprint column the adapter writes;
// knowledge_graph_adapter_oneiric.py _create_schema).
var reflectionDDL = []string{
	`CREATE TABLE conversations_v2 (
		id TEXT PRIMARY KEY,
		content TEXT NOT NULL,
		embedding FLOAT[384],
		category TEXT NOT NULL,
		subcategory TEXT,
		importance_score REAL DEFAULT 0.5,
		memory_tier TEXT DEFAULT 'long_term',
		access_count INTEGER DEFAULT 0,
		last_accessed TIMESTAMP,
		project TEXT,
		namespace TEXT DEFAULT 'default',
		timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
		session_id TEXT,
		user_id TEXT DEFAULT 'default',
		searchable_content TEXT,
		reasoning TEXT,
		metadata VARCHAR,
		source_type TEXT CHECK (source_type IS NULL OR source_type IN
			('claude_code', 'crackerjack', 'mahavishnu_workflow', 'manual', 'migration')),
		turn_parent_id TEXT,
		causal_parent_id TEXT
	)`,
	`ALTER TABLE conversations_v2 ADD COLUMN IF NOT EXISTS fingerprint BLOB`,
	`CREATE TABLE reflections_v2 (
		id TEXT PRIMARY KEY,
		content TEXT NOT NULL,
		embedding FLOAT[384],
		category TEXT NOT NULL,
		importance_score REAL DEFAULT 0.5,
		memory_tier TEXT DEFAULT 'long_term',
		tags TEXT[],
		related_entities TEXT[],
		timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
		project TEXT,
		namespace TEXT DEFAULT 'default',
		access_count INTEGER DEFAULT 0,
		last_accessed TIMESTAMP,
		created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
		updated_at TIMESTAMP,
		insight_type TEXT,
		usage_count INTEGER DEFAULT 0,
		last_used_at TIMESTAMP,
		confidence_score REAL,
		fingerprint BLOB,
		subcategory TEXT,
		metadata JSON
	)`,
	`CREATE INDEX idx_conversations_timestamp ON conversations_v2(timestamp DESC)`,
	// Tables the importer does not read are there too, as in a real file.
	`CREATE TABLE memory_access_log (id TEXT PRIMARY KEY, memory_id TEXT, access_type TEXT,
		query_text TEXT, timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP)`,
}

var knowledgeGraphDDL = []string{
	`CREATE TABLE kg_entities (
		id VARCHAR PRIMARY KEY,
		name VARCHAR NOT NULL,
		entity_type VARCHAR NOT NULL,
		observations VARCHAR[],
		properties JSON,
		created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
		updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
		metadata JSON,
		embedding FLOAT[384]
	)`,
	`CREATE TABLE kg_relationships (
		id VARCHAR PRIMARY KEY,
		from_entity VARCHAR NOT NULL,
		to_entity VARCHAR NOT NULL,
		relation_type VARCHAR NOT NULL,
		properties JSON,
		created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
		updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
		metadata JSON
	)`,
	`CREATE INDEX idx_entities_name ON kg_entities(name)`,
}

// fixture describes the rows of one Session-Buddy install. Row i of each
// table is deterministic, so tests can predict every imported field.
type fixture struct {
	conversations, reflections, entities, relations int
	// badImportance lists conversation rows stored with importance 1.5,
	// which Akosha refuses.
	badImportance map[int]bool
}

func defaultFixture() fixture {
	return fixture{conversations: 7, reflections: 4, entities: 3, relations: 2, badImportance: map[int]bool{4: true}}
}

func (f fixture) validMemories() int {
	return f.conversations - len(f.badImportance) + f.reflections
}

// baseTime is a naive (zone-less) timestamp, as Session-Buddy stores them.
var baseTime = time.Date(2026, 6, 1, 10, 0, 0, 123456000, time.UTC)

func convID(i int) string   { return fmt.Sprintf("%016x", 0xc0ffee00+i) } // sha256 prefix, as store_conversation
func reflID(i int) string   { return fmt.Sprintf("01JREFL%019d", i) }     // ULID-like
func entityID(i int) string { return fmt.Sprintf("6f1c2d3e-0000-4000-8000-%012d", i) }
func relID(i int) string    { return fmt.Sprintf("9a8b7c6d-0000-4000-8000-%012d", i) }

func embedding(seed uint64) []float32 {
	return gen.Embedding(rand.New(rand.NewPCG(seed, 384)))
}

func convTime(i int) time.Time { return baseTime.Add(time.Duration(i) * 7 * time.Hour) }

// writeDatabases creates reflection.duckdb and knowledge_graph.duckdb in dir
// with DuckDB, the way Session-Buddy's adapters fill them.
func writeDatabases(t *testing.T, dir string, f fixture) (reflection, kg string) {
	t.Helper()
	ctx := context.Background()
	reflection = filepath.Join(dir, ReflectionDB)
	kg = filepath.Join(dir, KnowledgeGraphDB)

	db := openDuck(t, reflection)
	execAll(t, db, reflectionDDL)
	for i := range f.conversations {
		importance := float32(0.7)
		if f.badImportance[i] {
			importance = 1.5
		}
		content := fmt.Sprintf("conversation %d: fixed the parser's handling of naive timestamps", i)
		var reasoning any
		if i%2 == 0 {
			reasoning = "worth keeping"
		}
		_, err := db.ExecContext(ctx, `INSERT INTO conversations_v2
			(id, content, embedding, category, subcategory, importance_score, memory_tier, access_count,
			 last_accessed, project, namespace, timestamp, session_id, user_id, searchable_content,
			 reasoning, metadata, source_type, turn_parent_id, causal_parent_id, fingerprint)
			VALUES (?, ?, ?, 'context', 'parsing', ?, 'long_term', 3, ?, 'akosha', 'default', ?, 'sess-1',
			        'default', ?, ?, ?, 'claude_code', NULL, NULL, ?)`,
			convID(i), content, embedding(uint64(i)), importance, convTime(i).Add(time.Hour),
			convTime(i), content, reasoning, fmt.Sprintf(`{"project": "akosha", "turn": %d, "score": 0.25}`, i),
			[]byte{0xde, 0xad, byte(i)})
		if err != nil {
			t.Fatalf("insert conversation %d: %v", i, err)
		}
	}
	for i := range f.reflections {
		_, err := db.ExecContext(ctx, `INSERT INTO reflections_v2
			(id, content, embedding, category, importance_score, memory_tier, tags, related_entities,
			 timestamp, project, namespace, created_at, updated_at, insight_type, usage_count,
			 confidence_score, metadata)
			VALUES (?, ?, ?, 'context', 0.5, 'long_term', ?, ?, ?, 'akosha', 'default', ?, ?, 'general', 0,
			        0.5, ?)`,
			reflID(i), fmt.Sprintf("reflection %d: prefer small files", i), embedding(1000+uint64(i)),
			[]string{"go", "", "lake"}, []string{entityID(0)}, baseTime.Add(time.Duration(i)*time.Hour),
			baseTime.Add(time.Duration(i)*time.Hour), baseTime.Add(time.Duration(i)*time.Hour),
			`{"quality_score": 0.9}`)
		if err != nil {
			t.Fatalf("insert reflection %d: %v", i, err)
		}
	}
	closeDuck(t, db)

	db = openDuck(t, kg)
	execAll(t, db, knowledgeGraphDDL)
	for i := range f.entities {
		var emb any
		if i == 0 {
			emb = embedding(2000)
		}
		_, err := db.ExecContext(ctx, `INSERT INTO kg_entities
			(id, name, entity_type, observations, properties, created_at, updated_at, metadata, embedding)
			VALUES (?, ?, 'technology', ?, ?, ?, ?, ?, ?)`,
			entityID(i), fmt.Sprintf("entity-%d", i), []string{"observed once", "observed twice"},
			`{"lang": "go"}`, baseTime, baseTime.Add(time.Minute), `{"origin": "extraction"}`, emb)
		if err != nil {
			t.Fatalf("insert entity %d: %v", i, err)
		}
	}
	for i := range f.relations {
		_, err := db.ExecContext(ctx, `INSERT INTO kg_relationships
			(id, from_entity, to_entity, relation_type, properties, created_at, updated_at, metadata)
			VALUES (?, ?, ?, 'uses', '{}', ?, ?, '{}')`,
			relID(i), entityID(0), entityID(i+1), baseTime, baseTime)
		if err != nil {
			t.Fatalf("insert relation %d: %v", i, err)
		}
	}
	closeDuck(t, db)
	return reflection, kg
}

func openDuck(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func closeDuck(t *testing.T, db *sql.DB) {
	t.Helper()
	// Session-Buddy's file is read while its server runs; a checkpoint makes
	// sure the rows are in the file and not only in a WAL that is not uploaded.
	if _, err := db.Exec("CHECKPOINT"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func execAll(t *testing.T, db *sql.DB, stmts []string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func gzipBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// upload is one upload folder to write to the source store.
type upload struct {
	sid, uid string
	files    map[string][]byte // object name -> stored bytes
	manifest any               // marshalled as JSON; nil: Session-Buddy's
}

func uploadID(sid string, at time.Time) string {
	return at.UTC().Format("20060102_150405") + "_" + sid
}

// sessionBuddyUpload builds a complete upload as CloudSyncMethod makes it:
// both databases gzipped under their own names and its manifest.
func sessionBuddyUpload(t *testing.T, sid string, at time.Time, f fixture) upload {
	t.Helper()
	refl, kg := writeDatabases(t, t.TempDir(), f)
	return upload{sid: sid, uid: uploadID(sid, at), files: map[string][]byte{
		ReflectionDB:     gzipBytes(t, readFile(t, refl)),
		KnowledgeGraphDB: gzipBytes(t, readFile(t, kg)),
	}}
}

func (u upload) prefix() string { return "systems/" + u.sid + "/uploads/" + u.uid }

// sbManifest is the manifest CloudSyncMethod._upload_manifest writes.
func (u upload) sbManifest(at time.Time) map[string]any {
	var files []map[string]any
	for _, name := range []string{ReflectionDB, KnowledgeGraphDB} {
		if _, ok := u.files[name]; !ok {
			continue
		}
		files = append(files, map[string]any{
			"name": name, "path": u.prefix() + "/" + name, "size_bytes": 0,
			"compression": "gzip", "checksum": "",
		})
	}
	return map[string]any{
		"upload_id": u.uid, "system_id": u.sid,
		// Python's datetime.now(UTC).isoformat()
		"timestamp": at.UTC().Format("2006-01-02T15:04:05.999999") + "+00:00",
		"files":     files,
		"metadata":  map[string]any{"uploader": "session-buddy", "version": "1.0.0"},
	}
}

// put writes the upload's files, then its manifest, as Session-Buddy does.
func (u upload) put(t *testing.T, s storage.Store) {
	t.Helper()
	ctx := context.Background()
	for name, b := range u.files {
		if err := s.Put(ctx, u.prefix()+"/"+name, bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatalf("put %s: %v", name, err)
		}
	}
	m := u.manifest
	if m == nil {
		m = u.sbManifest(time.Now())
	}
	b, ok := m.([]byte)
	if !ok {
		var err error
		if b, err = json.MarshalIndent(m, "", "  "); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(ctx, u.prefix()+"/"+ManifestName, bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatalf("put manifest: %v", err)
	}
}
