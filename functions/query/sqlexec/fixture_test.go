package sqlexec

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/schemas"
)

// fixture is a cache directory holding a few Hive-partitioned data files
// written exactly as the lake writes them (schemas' row types through
// parquet-go), an engine over it, and the views of a typical request.
type fixture struct {
	cache   string // the allowed directory
	temp    string // the engine's spill directory
	outside string // a directory hostile statements aim at
	engine  *Engine
	views   map[string]View
	// memories is the row count of views[memories].
	memories int
}

var (
	t0   = time.Date(2026, 11, 1, 10, 20, 30, 123456000, time.UTC)
	imp  = 0.75
	meta = `{"b":1,"a":12345678901234567890,"nested":{"z":[1,2]}}`
)

func embedding(seed float32) []float32 {
	v := make([]float32, schemas.EmbeddingDim)
	for i := range v {
		v[i] = seed + float32(i)/1024
	}
	return v
}

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	root := t.TempDir()
	f := &fixture{
		cache:   filepath.Join(root, "cache"),
		temp:    filepath.Join(root, "spill"),
		outside: filepath.Join(root, "outside"),
	}
	for _, d := range []string{f.cache, f.temp, f.outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	hotA := f.write(t, "memories/tier=hot/system_id=sys-a/day=2026-11-01/a.parquet", []schemas.MemoryRow{
		{ID: "m1", Kind: "memory", Content: "first", Embedding: embedding(0.5), CreatedAt: t0,
			Project: strPtr("akosha"), Tags: []string{"x", "y"}, Importance: &imp, Metadata: &meta},
		{ID: "m2", Kind: "reflection", Content: "second", CreatedAt: t0.Add(time.Hour)},
		{ID: "m3", Kind: "conversation", Content: "third", CreatedAt: t0.Add(2 * time.Hour), Tags: []string{}},
	})
	warmB := f.write(t, "memories/tier=warm/system_id=0042/day=2026-10-01/b.parquet", []schemas.MemoryRow{
		{ID: "m1", Kind: "memory", Content: "other system", CreatedAt: t0.AddDate(0, -1, 0)},
	})
	// Three versions of "dup" in three commits with the same ingested_at,
	// so commit order decides; the newest is in the middle file of the
	// list, and is the later of two rows in it. A key only the newest
	// commit has. And "moved", whose newer version (by ingested_at) is in
	// the older commit, as after a compaction rewrote the older version.
	d5 := f.write(t, "memories/tier=hot/system_id=sys-a/day=2026-11-02/d5.parquet", []schemas.MemoryRow{
		{ID: "dup", Kind: "memory", Content: "v5", CreatedAt: t0.Add(48 * time.Hour)},
		{ID: "moved", Kind: "memory", Content: "newer", CreatedAt: t0, IngestedAt: t0.Add(10 * time.Hour)},
	})
	d7 := f.write(t, "memories/tier=hot/system_id=sys-a/day=2026-11-02/d7.parquet", []schemas.MemoryRow{
		{ID: "dup", Kind: "memory", Content: "v7-first", CreatedAt: t0.Add(24 * time.Hour)},
		{ID: "dup", Kind: "memory", Content: "v7", CreatedAt: t0.Add(24 * time.Hour)},
		{ID: "solo", Kind: "memory", Content: "solo", CreatedAt: t0},
		{ID: "moved", Kind: "memory", Content: "older", CreatedAt: t0, IngestedAt: t0.Add(time.Hour)},
	})
	d6 := f.write(t, "memories/tier=hot/system_id=sys-a/day=2026-11-02/d6.parquet", []schemas.MemoryRow{
		{ID: "dup", Kind: "memory", Content: "v6", CreatedAt: t0.Add(72 * time.Hour)},
	})
	ent := f.write(t, "entities/tier=hot/system_id=sys-a/day=2026-11-01/e.parquet", []schemas.EntityRow{
		{ID: "e1", Name: "Go", EntityType: "language", Observations: []string{"fast"},
			Properties: strPtr(`{"k":"v"}`), CreatedAt: t0, UpdatedAt: t0, Embedding: embedding(1)},
	})
	f.views = map[string]View{
		ViewMemories: {Files: []File{
			{Path: hotA, Seq: 1}, {Path: warmB, Seq: 2},
			{Path: d5, Seq: 5, Dedup: true}, {Path: d7, Seq: 7, Dedup: true}, {Path: d6, Seq: 6, Dedup: true},
		}},
		ViewEntities: {Files: []File{{Path: ent, Seq: 3}}},
	}
	f.memories = 3 + 1 + 3 // plain rows, plus dup, solo and moved

	if cfg.AllowedDirs == nil {
		cfg.AllowedDirs = []string{f.cache}
	}
	if cfg.TempDir == "" {
		cfg.TempDir = f.temp
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	f.engine = e
	return f
}

// write writes rows as a data file at rel, a path in the lake's layout
// with the rows' system named in it for readability
// (memories/tier=hot/system_id=a/day=.../x.parquet): the system goes into
// the rows' system_id column, and the file into .../tier=hot/day=.../, as
// the lake lays them out.
func (f *fixture) write(t testing.TB, rel string, rows any) string {
	t.Helper()
	sys, rel := splitSystem(rel)
	p := filepath.Join(f.cache, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	var err error
	switch r := rows.(type) {
	case []schemas.MemoryRow:
		for i := range r {
			r[i].SystemID = sys
		}
		err = parquet.WriteFile(p, r)
	case []schemas.EntityRow:
		for i := range r {
			r[i].SystemID = sys
		}
		err = parquet.WriteFile(p, r)
	case []schemas.RelationRow:
		for i := range r {
			r[i].SystemID = sys
		}
		err = parquet.WriteFile(p, r)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// splitSystem takes the system_id=<s> segment out of a path.
func splitSystem(rel string) (string, string) {
	parts := strings.Split(rel, "/")
	for i, p := range parts {
		if s, ok := strings.CutPrefix(p, "system_id="); ok {
			return s, strings.Join(append(parts[:i:i], parts[i+1:]...), "/")
		}
	}
	return "", rel
}

// exec runs sql over the fixture's views.
func (f *fixture) exec(t testing.TB, sql string, limit int) (*Result, error) {
	t.Helper()
	return f.engine.Exec(context.Background(), Request{SQL: sql, Limit: limit, Views: f.views})
}

func (f *fixture) mustExec(t testing.TB, sql string) *Result {
	t.Helper()
	res, err := f.exec(t, sql, 0)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return res
}

// files lists every file under the watched directories.
func (f *fixture) files(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, d := range []string{f.cache, f.temp, f.outside} {
		err := filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			out = append(out, p)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(out)
	return out
}

func jsonOf(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func strPtr(s string) *string { return &s }
