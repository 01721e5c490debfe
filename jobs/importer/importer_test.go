package importer

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

func testCtx(t *testing.T) context.Context {
	return testenv.Context(t)
}

func openLake(t *testing.T, s storage.Store) *lake.Lake {
	t.Helper()
	l, err := lake.Open(testCtx(t), s)
	if err != nil {
		t.Fatalf("open lake: %v", err)
	}
	return l
}

// quiet keeps the tests' output readable: the job's logs are checked through
// the Summary instead.
func quiet(opts Options) Options {
	opts.Logger = testLogger()
	return opts
}

// numRecords sums numRecords of the table's live files, as the query side
// plans with it.
func numRecords(t *testing.T, l *lake.Lake, table string) int64 {
	t.Helper()
	tbl, err := l.Table(table)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := tbl.Refresh(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for f := range snap.AllFiles() {
		st, err := f.ParsedStats()
		if err != nil {
			t.Fatalf("stats of %s: %v", f.Path, err)
		}
		n += st.NumRecords
	}
	return n
}

func versions(t *testing.T, l *lake.Lake) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, name := range lake.Tables {
		tbl, _ := l.Table(name)
		snap, err := tbl.Refresh(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = snap.Version
	}
	return out
}

func counts(t *testing.T, l *lake.Lake) [3]int64 {
	return [3]int64{numRecords(t, l, schemas.TableMemories), numRecords(t, l, schemas.TableEntities), numRecords(t, l, schemas.TableRelations)}
}

// lakeDuck copies the table's live files to a directory (keeping their
// Hive-style paths, as the query side's cache does) and opens DuckDB with a
// view over them.
func lakeDuck(t *testing.T, l *lake.Lake, table string) *sql.DB {
	t.Helper()
	tbl, _ := l.Table(table)
	snap, err := tbl.Refresh(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var paths []string
	for f := range snap.AllFiles() {
		key := table + "/" + f.Path
		b, err := storage.ReadAll(testCtx(t), l.Store(), key)
		if err != nil {
			t.Fatalf("fetch %s: %v", key, err)
		}
		p := filepath.Join(dir, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, sqlString(p))
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec("SET TimeZone = 'UTC'"); err != nil {
		t.Fatal(err)
	}
	q := "CREATE VIEW t AS SELECT * FROM read_parquet([" + strings.Join(paths, ",") + "], hive_partitioning = true)"
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
	return db
}

func jsonObject(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return m
}

func wantStats(t *testing.T, got TableStats, want TableStats, table string) {
	t.Helper()
	if got != want {
		t.Errorf("%s: stats %+v, want %+v", table, got, want)
	}
}

func TestImportSessionBuddyUpload(t *testing.T) {
	ctx := testCtx(t)
	src := testenv.S3(t)
	l := openLake(t, testenv.S3(t))
	at := time.Date(2026, 6, 8, 12, 0, 0, 0, time.UTC)
	f := defaultFixture()
	up := sessionBuddyUpload(t, "laptop-01", at, f)
	up.manifest = up.sbManifest(at)
	up.put(t, src)

	var events []Event
	opts := quiet(Options{BatchSize: 3, Progress: func(e Event) { events = append(events, e) }})
	sum, err := Run(ctx, src, l, opts)
	if err != nil {
		t.Fatalf("run: %v (%+v)", err, sum)
	}
	if sum.Seen != 1 || sum.Imported != 1 || sum.Skipped != 0 || sum.Failed != 0 {
		t.Fatalf("summary %+v", sum)
	}
	// 7 conversations in batches of 3, one refused for its importance.
	wantStats(t, sum.Tables["conversations_v2"], TableStats{Rows: 7, Imported: 6, Invalid: 1, Batches: 3}, "conversations_v2")
	wantStats(t, sum.Tables["reflections_v2"], TableStats{Rows: 4, Imported: 4, Batches: 2}, "reflections_v2")
	wantStats(t, sum.Tables["kg_entities"], TableStats{Rows: 3, Imported: 3, Batches: 1}, "kg_entities")
	wantStats(t, sum.Tables["kg_relationships"], TableStats{Rows: 2, Imported: 2, Batches: 1}, "kg_relationships")
	res := sum.Uploads[0]
	if res.Prefix != up.prefix() || res.SystemID != "laptop-01" || res.UploadID != up.uid || res.Status != StatusImported {
		t.Errorf("upload result %+v", res)
	}
	if len(res.Invalid) != 1 || res.Invalid[0].ID != convID(4) || !strings.Contains(res.Invalid[0].Err.Error(), "importance") {
		t.Errorf("invalid rows %+v", res.Invalid)
	}
	if got := counts(t, l); got != [3]int64{int64(f.validMemories()), 3, 2} {
		t.Fatalf("lake holds %v records, want [%d 3 2]", got, f.validMemories())
	}
	var batches int
	for _, e := range events {
		if e.Phase == PhaseBatch && e.Committed {
			batches++
		}
		if e.Index != 1 || e.Total != 1 {
			t.Errorf("event %+v: want index 1 of 1", e)
		}
	}
	if batches != 7 || events[len(events)-1].Phase != PhaseDone || events[len(events)-1].Status != StatusImported {
		t.Errorf("progress: %d committed batches, last %+v", batches, events[len(events)-1])
	}

	checkConversation(t, l, up, 0)
	checkReflection(t, l, up)
	checkGraph(t, l)

	marker, err := storage.ReadAll(ctx, src, up.prefix()+"/"+MarkerName)
	if err != nil {
		t.Fatalf("marker: %v", err)
	}
	if m := jsonObject(t, string(marker)); m["txn_app_id"] != doneAppID(up.prefix()) {
		t.Errorf("marker %s", marker)
	}

	// A second run, in this process and in a fresh one, commits nothing.
	before := versions(t, l)
	for _, lk := range []*lake.Lake{l, openLake(t, l.Store())} {
		sum, err := Run(ctx, src, lk, quiet(Options{BatchSize: 3}))
		if err != nil {
			t.Fatalf("second run: %v", err)
		}
		if sum.Seen != 1 || sum.Skipped != 1 || sum.Imported != 0 || sum.Uploads[0].Status != StatusSkipped {
			t.Errorf("second run summary %+v", sum)
		}
		if after := versions(t, l); !maps(before, after) {
			t.Errorf("second run committed: versions %v -> %v", before, after)
		}
	}
}

func maps(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// checkConversation reads conversation i back from the lake's Parquet files
// and compares every mapped field with what the fixture stored.
func checkConversation(t *testing.T, l *lake.Lake, up upload, i int) {
	t.Helper()
	db := lakeDuck(t, l, schemas.TableMemories)
	var (
		systemID, kind, content, project, namespace, session, user, category, sub, source, meta, tier, day string
		created                                                                                            time.Time
		importance                                                                                         float64
		dims                                                                                               int
		emb                                                                                                []any
		tags                                                                                               any
	)
	err := db.QueryRow(`SELECT system_id, kind, content, project, namespace, session_id, user_id, category,
		subcategory, source_type, metadata, tier, CAST(day AS VARCHAR), created_at, importance,
		len(embedding), embedding, tags FROM t WHERE id = ?`, convID(i)).Scan(
		&systemID, &kind, &content, &project, &namespace, &session, &user, &category, &sub, &source, &meta,
		&tier, &day, &created, &importance, &dims, &emb, &tags)
	if err != nil {
		t.Fatalf("read conversation back: %v", err)
	}
	// Reasoning is appended to the content, as Session-Buddy's push does.
	want := []string{"laptop-01", "conversation", "conversation 0: fixed the parser's handling of naive timestamps\n\nReasoning: worth keeping",
		"akosha", "default", "sess-1", "default", "context", "parsing", "claude_code", "hot", "2026-06-01"}
	got := []string{systemID, kind, content, project, namespace, session, user, category, sub, source, tier, day}
	if !slices.Equal(got, want) {
		t.Errorf("conversation fields\n got %q\nwant %q", got, want)
	}
	// The naive timestamp is read as UTC, to the microsecond.
	if !created.Equal(convTime(i)) {
		t.Errorf("created_at %v, want %v", created, convTime(i))
	}
	// REAL 0.7 arrives as 0.7, not as its float32 value widened.
	if importance != 0.7 {
		t.Errorf("importance %v, want 0.7", importance)
	}
	wantEmb := embedding(uint64(i))
	if dims != 384 || len(emb) != 384 {
		t.Fatalf("embedding has %d values", dims)
	}
	for k := range emb {
		if emb[k].(float32) != wantEmb[k] {
			t.Fatalf("embedding[%d] = %v, want %v", k, emb[k], wantEmb[k])
		}
	}
	if tags != nil {
		t.Errorf("tags %v, want NULL", tags)
	}
	m := jsonObject(t, meta)
	// Only what the push sends: no access_count, last_accessed or the
	// table's own metadata column.
	wantMeta := map[string]any{"memory_tier": "long_term", "ingestion_method": "s3_import"}
	if len(m) != len(wantMeta) {
		t.Errorf("metadata %v, want %v", m, wantMeta)
	}
	for k, v := range wantMeta {
		if m[k] != v {
			t.Errorf("metadata[%q] = %v, want %v", k, m[k], v)
		}
	}
}

func checkReflection(t *testing.T, l *lake.Lake, up upload) {
	t.Helper()
	db := lakeDuck(t, l, schemas.TableMemories)
	var (
		kind, meta string
		tags       []any
		created    time.Time
		n          int
	)
	err := db.QueryRow(`SELECT kind, tags, metadata, created_at FROM t WHERE id = ?`, reflID(1)).Scan(&kind, &tags, &meta, &created)
	if err != nil {
		t.Fatalf("read reflection back: %v", err)
	}
	if kind != "reflection" || !slices.Equal(tags, []any{"go", "lake"}) || !created.Equal(baseTime.Add(time.Hour)) {
		t.Errorf("reflection: kind %q tags %v created %v", kind, tags, created)
	}
	m := jsonObject(t, meta)
	if len(m) != 3 || m["memory_tier"] == nil || m["ingestion_method"] != "s3_import" ||
		!slices.Equal(m["related_entities"].([]any), []any{entityID(0)}) {
		t.Errorf("reflection metadata %v, want memory_tier, related_entities and ingestion_method only", m)
	}
	if err := db.QueryRow(`SELECT count(*) FROM t WHERE kind = 'reflection' AND len(embedding) = 384`).Scan(&n); err != nil || n != 4 {
		t.Errorf("reflections with embeddings: %d, %v", n, err)
	}
}

func checkGraph(t *testing.T, l *lake.Lake) {
	t.Helper()
	db := lakeDuck(t, l, schemas.TableEntities)
	var (
		name, typ, props string
		obs              []any
		created, updated time.Time
		dims             sql.NullInt64
	)
	err := db.QueryRow(`SELECT name, entity_type, observations, properties, created_at, updated_at, len(embedding)
		FROM t WHERE id = ?`, entityID(0)).Scan(&name, &typ, &obs, &props, &created, &updated, &dims)
	if err != nil {
		t.Fatalf("read entity back: %v", err)
	}
	if name != "entity-0" || typ != "technology" || !slices.Equal(obs, []any{"observed once", "observed twice"}) ||
		!created.Equal(baseTime) || !updated.Equal(baseTime.Add(time.Minute)) || dims.Int64 != 384 {
		t.Errorf("entity: %q %q %v %v %v %v", name, typ, obs, created, updated, dims)
	}
	p := jsonObject(t, props)
	if p["lang"] != "go" || p["metadata"].(map[string]any)["origin"] != "extraction" || p["ingestion_method"] != "s3_import" {
		t.Errorf("entity properties %v", p)
	}

	db = lakeDuck(t, l, schemas.TableRelations)
	var from, to, rtype string
	err = db.QueryRow(`SELECT from_entity, to_entity, relation_type, properties FROM t WHERE id = ?`, relID(1)).Scan(&from, &to, &rtype, &props)
	if err != nil {
		t.Fatalf("read relation back: %v", err)
	}
	if from != entityID(0) || to != entityID(2) || rtype != "uses" {
		t.Errorf("relation %s -%s-> %s", from, rtype, to)
	}
	// An empty metadata object adds nothing.
	if p := jsonObject(t, props); p["metadata"] != nil || p["ingestion_method"] != "s3_import" {
		t.Errorf("relation properties %v", p)
	}
}

func TestResumeAfterCrash(t *testing.T) {
	ctx := testCtx(t)
	src := testenv.S3(t)
	l := openLake(t, testenv.S3(t))
	f := defaultFixture()
	up := sessionBuddyUpload(t, "desk-7", time.Date(2026, 6, 9, 8, 0, 0, 0, time.UTC), f)
	up.put(t, src)

	// The process "dies" right after its first commit.
	crash, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := quiet(Options{BatchSize: 2, Progress: func(e Event) {
		if e.Phase == PhaseBatch && e.Committed {
			cancel()
		}
	}})
	sum, err := Run(crash, src, l, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("crashed run: err %v, want context.Canceled", err)
	}
	if sum.Failed != 1 || sum.Tables["conversations_v2"].Batches != 1 {
		t.Errorf("crashed run summary %+v", sum)
	}
	if got := numRecords(t, l, schemas.TableMemories); got != 2 {
		t.Fatalf("after the crash the lake holds %d memories, want the first batch's 2", got)
	}
	if _, err := src.Head(ctx, up.prefix()+"/"+MarkerName); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("marker written for an unfinished upload: %v", err)
	}

	// A new process resumes, with another batch size on its command line:
	// it keeps the one the upload was started with, so batch 0 is skipped
	// and nothing is imported twice.
	l2 := openLake(t, l.Store())
	sum, err = Run(ctx, src, l2, quiet(Options{BatchSize: 5}))
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	if sum.Imported != 1 {
		t.Errorf("resumed run summary %+v", sum)
	}
	wantStats(t, sum.Tables["conversations_v2"], TableStats{Rows: 7, Imported: 4, Invalid: 1, Batches: 3, SkippedBatches: 1}, "conversations_v2")
	if got := counts(t, l2); got != [3]int64{int64(f.validMemories()), 3, 2} {
		t.Fatalf("after resuming the lake holds %v, want [%d 3 2]", got, f.validMemories())
	}
	db := lakeDuck(t, l2, schemas.TableMemories)
	var n, distinct int
	if err := db.QueryRow(`SELECT count(*), count(DISTINCT id) FROM t`).Scan(&n, &distinct); err != nil || n != distinct {
		t.Errorf("duplicates: %d rows, %d ids (%v)", n, distinct, err)
	}
}

func TestConcurrentRunsImportOnce(t *testing.T) {
	ctx := testCtx(t)
	src := testenv.S3(t)
	lakeStore := testenv.S3(t)
	f := defaultFixture()
	day := time.Date(2026, 6, 10, 9, 0, 0, 0, time.UTC)
	ups := []upload{
		sessionBuddyUpload(t, "alpha", day, f),
		sessionBuddyUpload(t, "alpha", day.Add(6*time.Hour), f),
		sessionBuddyUpload(t, "beta", day, f),
	}
	for _, u := range ups {
		u.put(t, src)
	}

	// Two job processes, each with its own view of the lake.
	var wg sync.WaitGroup
	sums := make([]Summary, 2)
	errs := make([]error, 2)
	for i := range sums {
		l := openLake(t, lakeStore)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums[i], errs[i] = Run(ctx, src, l, quiet(Options{BatchSize: 2}))
		}()
	}
	wg.Wait()
	var memories int64
	for i, s := range sums {
		if errs[i] != nil {
			t.Fatalf("run %d: %v", i, errs[i])
		}
		if s.Seen != 3 || s.Failed != 0 {
			t.Errorf("run %d summary %+v", i, s)
		}
		memories += s.Tables["conversations_v2"].Imported + s.Tables["reflections_v2"].Imported
	}
	want := int64(len(ups) * f.validMemories())
	if memories != want {
		t.Errorf("the runs report %d memories imported between them, want %d", memories, want)
	}
	l := openLake(t, lakeStore)
	if got := counts(t, l); got != [3]int64{want, int64(3 * len(ups)), int64(2 * len(ups))} {
		t.Fatalf("lake holds %v", got)
	}
	mem, _ := l.Table(schemas.TableMemories)
	for _, u := range ups {
		if _, ok := mem.Cached().Txn(doneAppID(u.prefix())); !ok {
			t.Errorf("%s not marked done", u.prefix())
		}
	}
}

func TestDryRun(t *testing.T) {
	ctx := testCtx(t)
	src := testenv.S3(t)
	l := openLake(t, testenv.S3(t))
	tmp := t.TempDir()
	up := sessionBuddyUpload(t, "laptop-02", time.Date(2026, 6, 11, 8, 0, 0, 0, time.UTC), defaultFixture())
	up.put(t, src)
	before := versions(t, l)

	sum, err := Run(ctx, src, l, quiet(Options{DryRun: true, TempDir: tmp}))
	if err != nil || sum.Seen != 1 || sum.Pending != 1 || sum.Uploads[0].Status != StatusPending {
		t.Fatalf("dry run: %v %+v", err, sum)
	}
	if after := versions(t, l); !maps(before, after) {
		t.Errorf("dry run committed: %v -> %v", before, after)
	}
	if _, err := src.Head(ctx, up.prefix()+"/"+MarkerName); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("dry run wrote a marker: %v", err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("dry run left %d entries in the temp dir", len(ents))
	}

	if _, err := Run(ctx, src, l, quiet(Options{TempDir: tmp})); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("the run left %d entries in the temp dir", len(ents))
	}
	sum, err = Run(ctx, src, l, quiet(Options{DryRun: true}))
	if err != nil || sum.Skipped != 1 || sum.Pending != 0 {
		t.Fatalf("dry run after import: %v %+v", err, sum)
	}
}

// TestOlderInstall: an upload from an install whose tables predate some
// columns, with only the reflection database and a manifest in the shape of
// Akosha's Python schema.
func TestOlderInstall(t *testing.T) {
	ctx := testCtx(t)
	src := testenv.S3(t)
	l := openLake(t, testenv.S3(t))
	dir := t.TempDir()
	path := filepath.Join(dir, ReflectionDB)
	db := openDuck(t, path)
	execAll(t, db, []string{
		`CREATE TABLE conversations_v2 (id TEXT PRIMARY KEY, content TEXT NOT NULL, embedding FLOAT[384],
			category TEXT NOT NULL, project TEXT, timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP)`,
		`INSERT INTO conversations_v2 VALUES ('old-1', 'from before the metadata column', NULL, 'facts', 'p',
			TIMESTAMP '2026-01-02 03:04:05')`,
	})
	closeDuck(t, db)
	up := upload{sid: "old-box", uid: "20260102_030405_old-box", files: map[string][]byte{ReflectionDB: readFile(t, path)}}
	up.manifest = map[string]any{
		"uploaded_at": "2026-01-02T03:04:05Z", "conversation_count": 1, "version": "1.0",
		"compressed": false, "files": []string{ReflectionDB},
	}
	up.put(t, src)

	sum, err := Run(ctx, src, l, quiet(Options{}))
	if err != nil || sum.Imported != 1 {
		t.Fatalf("run: %v %+v", err, sum)
	}
	wantStats(t, sum.Tables["conversations_v2"], TableStats{Rows: 1, Imported: 1, Batches: 1}, "conversations_v2")
	if got := counts(t, l); got != [3]int64{1, 0, 0} {
		t.Errorf("lake holds %v", got)
	}
}
