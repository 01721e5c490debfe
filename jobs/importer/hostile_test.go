package importer

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake/storage"
)

// testLogger shows the job's log lines with -v only.
func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// TestHostileUploadsAreRefused puts uploads that try to escape their folder,
// claim another system, exhaust memory or disk, or smuggle SQL into the
// importer next to a good one: each bad one is refused with ErrInvalidUpload
// and leaves no trace, and the good one is imported.
func TestHostileUploadsAreRefused(t *testing.T) {
	ctx := testCtx(t)
	src := testenv.S3(t)
	l := openLake(t, testenv.S3(t))
	tmp := t.TempDir()
	at := time.Date(2026, 6, 12, 7, 0, 0, 0, time.UTC)
	good := sessionBuddyUpload(t, "good-host", at, defaultFixture())
	goodDB := good.files[ReflectionDB]

	var bad []upload
	add := func(sid string, files map[string][]byte, manifest func(u upload) any) {
		u := upload{sid: sid, uid: uploadID(sid, at), files: files}
		if manifest != nil {
			u.manifest = manifest(u)
		}
		bad = append(bad, u)
	}
	withFile := func(name string, mutate func(f map[string]any)) func(u upload) any {
		return func(u upload) any {
			m := u.sbManifest(at)
			f := map[string]any{"name": name, "path": u.prefix() + "/" + name, "size_bytes": 0, "compression": "gzip", "checksum": ""}
			if mutate != nil {
				mutate(f)
			}
			m["files"] = []map[string]any{f}
			return m
		}
	}
	// Path traversal in a file name, aimed at the lake's log.
	add("traversal", map[string][]byte{ReflectionDB: goodDB},
		withFile("../../../memories/_delta_log/00000000000000000009.json", func(f map[string]any) { f["path"] = "" }))
	// A path that points out of the upload's folder.
	add("elsewhere", map[string][]byte{ReflectionDB: goodDB},
		withFile(ReflectionDB, func(f map[string]any) { f["path"] = "systems/good-host/uploads/x/../../../reflection.duckdb" }))
	// A system id the lake cannot hold (Session-Buddy's $HOSTNAME fallback).
	add("evil.example.com", map[string][]byte{ReflectionDB: goodDB}, nil)
	// A manifest claiming to be another system's.
	add("impostor", map[string][]byte{ReflectionDB: goodDB}, func(u upload) any {
		m := u.sbManifest(at)
		m["system_id"] = "good-host"
		return m
	})
	// A gzip bomb: 64 MiB of zeros in 64 KiB, over the 16 MiB limit below.
	add("bomb", map[string][]byte{ReflectionDB: gzipBytes(t, make([]byte, 64<<20))}, withFile(ReflectionDB, nil))
	// A checksum that does not match.
	add("tampered", map[string][]byte{ReflectionDB: goodDB}, withFile(ReflectionDB, func(f map[string]any) {
		f["checksum"] = sha([]byte("something else"))
	}))
	// Not a database at all.
	add("notduck", map[string][]byte{ReflectionDB: gzipBytes(t, []byte("PK\x03\x04 this is a zip file, honest"))}, withFile(ReflectionDB, nil))
	// A database whose "table" is a view reading the importer's own files.
	add("viewtrap", map[string][]byte{ReflectionDB: gzipBytes(t, viewTrap(t))}, withFile(ReflectionDB, nil))
	// A DuckDB file, but none of Session-Buddy's tables in it.
	add("notables", map[string][]byte{ReflectionDB: gzipBytes(t, otherDatabase(t))}, withFile(ReflectionDB, nil))
	// Listed but never uploaded.
	add("missing", map[string][]byte{}, withFile(ReflectionDB, nil))
	// Not JSON.
	add("garbage", map[string][]byte{ReflectionDB: goodDB}, func(upload) any { return []byte(`{"files": [`) })

	for _, u := range bad {
		u.put(t, src)
	}
	opts := quiet(Options{TempDir: tmp, MaxDatabaseBytes: 16 << 20})
	before := versions(t, l)
	sum, err := Run(ctx, src, l, opts)
	if !errors.Is(err, ErrUploadsFailed) {
		t.Fatalf("run over bad uploads: err %v, want ErrUploadsFailed", err)
	}
	if sum.Seen != len(bad) || sum.Failed != len(bad) {
		t.Errorf("summary: seen %d failed %d, want %d", sum.Seen, sum.Failed, len(bad))
	}
	for _, r := range sum.Uploads {
		if r.Status != StatusFailed || !errors.Is(r.Err, ErrInvalidUpload) {
			t.Errorf("%s: status %s, err %v; want failed with ErrInvalidUpload", r.Prefix, r.Status, r.Err)
		}
	}
	if after := versions(t, l); !maps(before, after) {
		t.Errorf("refused uploads committed: versions %v -> %v", before, after)
	}
	for want, sub := range map[string]string{
		"traversal": "path traversal", "elsewhere": "path traversal", "evil.example.com": "AKOSHA_SYSTEM_ID",
		"impostor": "does not match", "bomb": "decompresses to more than", "tampered": "checksum mismatch",
		"notduck": "not a DuckDB", "viewtrap": "view", "missing": "missing", "notables": "none of the tables", "garbage": "not a manifest",
	} {
		found := false
		for _, r := range sum.Uploads {
			if r.SystemID == want {
				found = true
				if r.Err == nil || !strings.Contains(r.Err.Error(), sub) {
					t.Errorf("%s: err %v, want it to mention %q", want, r.Err, sub)
				}
			}
		}
		if !found {
			t.Errorf("no result for %s", want)
		}
	}

	// The good upload next to them is imported; the bad ones stay refused
	// and leave nothing behind.
	good.put(t, src)
	sum, err = Run(ctx, src, l, opts)
	if !errors.Is(err, ErrUploadsFailed) || sum.Imported != 1 || sum.Failed != len(bad) {
		t.Fatalf("second run: %v %+v", err, sum)
	}
	if got := counts(t, l); got != [3]int64{int64(defaultFixture().validMemories()), 3, 2} {
		t.Errorf("lake holds %v", got)
	}
	for _, u := range bad {
		if _, err := src.Head(ctx, u.prefix()+"/"+MarkerName); !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("%s: marker written for a refused upload", u.prefix())
		}
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("%d entries left in the temp dir", len(ents))
	}
	// Nothing escaped into the lake's store outside its tables.
	objs, err := l.Store().List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if !strings.HasPrefix(o.Key, "memories/") && !strings.HasPrefix(o.Key, "entities/") && !strings.HasPrefix(o.Key, "relations/") {
			t.Errorf("unexpected object %s in the lake store", o.Key)
		}
	}
}

// viewTrap is a reflection.duckdb whose conversations_v2 is a view over a
// file of the machine that reads it.
func viewTrap(t *testing.T) []byte {
	t.Helper()
	secret := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(secret, []byte("do not import me"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), ReflectionDB)
	db := openDuck(t, path)
	execAll(t, db, []string{
		`CREATE VIEW conversations_v2 AS SELECT filename AS id, content, 'facts' AS category,
			TIMESTAMP '2026-06-01 00:00:00' AS timestamp FROM read_text(` + sqlString(secret) + `)`,
	})
	closeDuck(t, db)
	return readFile(t, path)
}

func otherDatabase(t *testing.T) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), ReflectionDB)
	db := openDuck(t, path)
	execAll(t, db, []string{`CREATE TABLE conversations (id TEXT, content TEXT)`, `INSERT INTO conversations VALUES ('a', 'b')`})
	closeDuck(t, db)
	return readFile(t, path)
}

func TestFetchLimitsAndChecksums(t *testing.T) {
	ctx := testCtx(t)
	s := testenv.Local(t)
	dir := t.TempDir()
	db := readFile(t, func() string { p, _ := writeDatabases(t, t.TempDir(), fixture{conversations: 1}); return p }())
	gz := gzipBytes(t, db)
	put := func(key string, b []byte) {
		if err := s.Put(ctx, key, bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
	}
	put("gz", gz)
	put("raw", db)
	n := 0
	fetch := func(key string, f File, maxStored, maxSize int64) error {
		n++
		sub := filepath.Join(dir, string(rune('a'+n)))
		if err := os.Mkdir(sub, 0o700); err != nil {
			t.Fatal(err)
		}
		f.Name = ReflectionDB
		_, err := fetchFile(ctx, s, key, f, sub, maxStored, maxSize)
		return err
	}
	big := int64(1 << 30)
	for _, c := range []struct {
		name    string
		key     string
		f       File
		stored  int64
		size    int64
		wantErr string
	}{
		{"gzip", "gz", File{Compression: compressionGzip}, big, big, ""},
		{"sniffed gzip", "gz", File{}, big, big, ""},
		{"raw", "raw", File{Compression: compressionNone}, big, big, ""},
		{"sniffed raw", "raw", File{}, big, big, ""},
		{"raw said gzip", "raw", File{Compression: compressionGzip}, big, big, "not gzip data"},
		{"stored checksum", "gz", File{SHA256: sha(gz)}, big, big, ""},
		{"content checksum", "gz", File{SHA256: sha(db)}, big, big, ""},
		{"wrong checksum", "gz", File{SHA256: sha(nil)}, big, big, "checksum mismatch"},
		{"stored size", "gz", File{Size: int64(len(gz))}, big, big, ""},
		{"content size", "gz", File{Size: int64(len(db))}, big, big, ""},
		{"wrong size", "gz", File{Size: 12345}, big, big, "size_bytes"},
		{"over stored limit", "gz", File{}, int64(len(gz)) - 1, big, "more than the limit"},
		{"over content limit", "gz", File{}, big, int64(len(db)) - 1, "decompresses to more than"},
		{"at the limits", "gz", File{}, int64(len(gz)), int64(len(db)), ""},
		{"missing", "nope", File{}, big, big, "missing"},
	} {
		err := fetch(c.key, c.f, c.stored, c.size)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr) || !errors.Is(err, ErrInvalidUpload)):
			t.Errorf("%s: err %v, want ErrInvalidUpload mentioning %q", c.name, err, c.wantErr)
		}
	}
}

// TestHostileRows: rows that are oversized, malformed or out of range are
// counted and reported, never committed, and do not stop their neighbours.
func TestHostileRows(t *testing.T) {
	ctx := testCtx(t)
	src := testenv.S3(t)
	l := openLake(t, testenv.S3(t))
	path := filepath.Join(t.TempDir(), ReflectionDB)
	db := openDuck(t, path)
	// A hand-made conversations_v2 with looser types than Session-Buddy's:
	// an unbounded embedding list and text timestamps. Its metadata column
	// is not imported (the push does not send it), so bad JSON there is no
	// harm; an oversized reasoning is.
	execAll(t, db, []string{
		`CREATE TABLE conversations_v2 (id TEXT, content TEXT, embedding FLOAT[], category TEXT,
			importance_score DOUBLE, timestamp VARCHAR, metadata VARCHAR, project TEXT)`,
		`INSERT INTO conversations_v2 VALUES
			('ok-1', 'fine', NULL, 'facts', 0.5, '2026-06-01T10:00:00', '{"a": 1}', 'p'),
			('big-content', repeat('x', 2 * 1024 * 1024), NULL, 'facts', 0.5, '2026-06-01T10:00:00', NULL, 'p'),
			('long-embedding', 'c', [0.5 for x in range(100000)], 'facts', 0.5, '2026-06-01T10:00:00', NULL, 'p'),
			('short-embedding', 'c', [0.5, 0.25], 'facts', 0.5, '2026-06-01T10:00:00', NULL, 'p'),
			('nan-embedding', 'c', [CAST('nan' AS FLOAT) for x in range(384)], 'facts', 0.5, '2026-06-01T10:00:00', NULL, 'p'),
			('array-metadata', 'c', NULL, 'facts', 0.5, '2026-06-01T10:00:00', '[1, 2]', 'p'),
			('broken-metadata', 'c', NULL, 'facts', 0.5, '2026-06-01T10:00:00', '{"a": ', 'p'),
			('huge-metadata', 'c', NULL, 'facts', 0.5, '2026-06-01T10:00:00', '{"a": "' || repeat('y', 300000) || '"}', 'p'),
			('huge-reasoning', 'c', NULL, 'facts', 0.5, '2026-06-01T10:00:00', NULL, 'p'),
			('no-time', 'c', NULL, 'facts', 0.5, NULL, NULL, 'p'),
			('bad-time', 'c', NULL, 'facts', 0.5, 'yesterday', NULL, 'p'),
			('ancient', 'c', NULL, 'facts', 0.5, '1970-01-01T00:00:00', NULL, 'p'),
			('future', 'c', NULL, 'facts', 0.5, '2999-01-01T00:00:00', NULL, 'p'),
			('slash/id', 'c', NULL, 'facts', 0.5, '2026-06-01T10:00:00', NULL, 'p'),
			(NULL, 'no id', NULL, 'facts', 0.5, '2026-06-01T10:00:00', NULL, 'p'),
			('no-content', NULL, NULL, 'facts', 0.5, '2026-06-01T10:00:00', NULL, 'p'),
			('control-project', 'c', NULL, 'facts', 0.5, '2026-06-01T10:00:00', NULL, e'p\x01'),
			('zoned-time', 'zoned', NULL, 'facts', NULL, '2026-06-01T12:00:00+02:00', NULL, 'p'),
			('ok-2', 'fine too', [0.5 for x in range(384)], 'facts', 1, '2026-06-01 10:00:00', '{}', 'p')`,
	})
	execAll(t, db, []string{
		`ALTER TABLE conversations_v2 ADD COLUMN reasoning TEXT`,
		`UPDATE conversations_v2 SET reasoning = repeat('r', 300000) WHERE id = 'huge-reasoning'`,
	})
	closeDuck(t, db)
	up := upload{sid: "fuzzy", uid: "20260601_100000_fuzzy", files: map[string][]byte{ReflectionDB: gzipBytes(t, readFile(t, path))}}
	up.put(t, src)

	sum, err := Run(ctx, src, l, quiet(Options{BatchSize: 4}))
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	wantStats(t, sum.Tables["conversations_v2"], TableStats{Rows: 19, Imported: 6, Invalid: 13, Batches: 5}, "conversations_v2")
	if got := numRecords(t, l, "memories"); got != 6 {
		t.Errorf("lake holds %d memories, want 6", got)
	}
	if n := len(sum.Uploads[0].Invalid); n != 13 {
		t.Errorf("%d invalid rows reported, want 13", n)
	}
	for _, r := range sum.Uploads[0].Invalid {
		t.Logf("%s: %v", r.ID, r.Err)
	}
	var created time.Time
	if err := lakeDuck(t, l, "memories").QueryRow(`SELECT created_at FROM t WHERE id = 'zoned-time'`).Scan(&created); err != nil ||
		!created.Equal(time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("zoned text timestamp: %v %v", created, err)
	}
}
