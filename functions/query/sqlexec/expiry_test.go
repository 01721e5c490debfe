package sqlexec

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/schemas"
)

// legacyRow is a memories row as written before expires_at (issue 16).
type legacyRow struct {
	SystemID    string    `parquet:"system_id,dict"`
	ID          string    `parquet:"id,plain"`
	Kind        string    `parquet:"kind,dict"`
	Content     string    `parquet:"content,plain"`
	Embedding   []float32 `parquet:"embedding,optional,list"`
	CreatedAt   time.Time `parquet:"created_at,timestamp(microsecond)"`
	Project     *string   `parquet:"project,optional,dict"`
	Namespace   *string   `parquet:"namespace,optional,dict"`
	SessionID   *string   `parquet:"session_id,optional,dict"`
	UserID      *string   `parquet:"user_id,optional,dict"`
	Category    *string   `parquet:"category,optional,dict"`
	Subcategory *string   `parquet:"subcategory,optional,dict"`
	Tags        []string  `parquet:"tags,optional,list"`
	Importance  *float64  `parquet:"importance,optional"`
	SourceType  *string   `parquet:"source_type,optional,dict"`
	Metadata    *string   `parquet:"metadata,optional,plain"`
	IngestedAt  time.Time `parquet:"ingested_at,timestamp(microsecond)"`
}

// Files written before the expires_at column read it as NULL, mixed with
// newer files in any order, plain and through the dedup window; VisibleAt
// hides expired rows after latest-wins, so an expired latest version is not
// replaced by an older one.
func TestExpiryInViews(t *testing.T) {
	f := newFixture(t, Config{})
	exp := t0.Add(time.Hour)
	p := func(tm time.Time) *time.Time { return &tm }
	legacy := filepath.Join(f.cache, "memories", "tier=hot", "day=2026-11-01", "legacy.parquet")
	if err := os.MkdirAll(filepath.Dir(legacy), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := parquet.WriteFile(legacy, []legacyRow{
		{SystemID: "s", ID: "old", Kind: "memory", Content: "legacy", CreatedAt: t0, IngestedAt: t0},
		{SystemID: "s", ID: "re", Kind: "memory", Content: "re v1", CreatedAt: t0, IngestedAt: t0},
	}); err != nil {
		t.Fatal(err)
	}
	fresh := f.write(t, "memories/tier=hot/system_id=s/day=2026-11-01/fresh.parquet", []schemas.MemoryRow{
		{ID: "keep", Kind: "memory", Content: "no expiry", CreatedAt: t0, IngestedAt: t0},
		{ID: "exp", Kind: "memory", Content: "expires", CreatedAt: t0, IngestedAt: t0, ExpiresAt: p(exp)},
		{ID: "re", Kind: "memory", Content: "re v2", CreatedAt: t0, IngestedAt: t0.Add(time.Minute), ExpiresAt: p(exp)},
	})
	for _, tt := range []struct {
		name  string
		files []File
		at    time.Time
		want  string
	}{
		{"legacy first, no filter", []File{{Path: legacy, NoExpiry: true}, {Path: fresh}}, time.Time{},
			`[["exp","expires"],["keep","no expiry"],["old","legacy"],["re","re v1"],["re","re v2"]]`},
		{"fresh first, before expiry", []File{{Path: fresh}, {Path: legacy, NoExpiry: true}}, exp.Add(-time.Microsecond),
			`[["exp","expires"],["keep","no expiry"],["old","legacy"],["re","re v1"],["re","re v2"]]`},
		{"dedup, before expiry", []File{{Path: fresh, Seq: 2, Dedup: true}, {Path: legacy, Seq: 1, Dedup: true, NoExpiry: true}}, exp.Add(-time.Microsecond),
			`[["exp","expires"],["keep","no expiry"],["old","legacy"],["re","re v2"]]`},
		{"dedup, at expiry", []File{{Path: legacy, Seq: 1, Dedup: true, NoExpiry: true}, {Path: fresh, Seq: 2, Dedup: true}}, exp,
			`[["keep","no expiry"],["old","legacy"]]`},
		{"plain, after expiry", []File{{Path: legacy, NoExpiry: true}, {Path: fresh}}, exp.Add(time.Hour),
			`[["keep","no expiry"],["old","legacy"],["re","re v1"]]`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f.views[ViewMemories] = View{Files: tt.files, VisibleAt: tt.at}
			res := f.mustExec(t, "SELECT id, content FROM memories ORDER BY id, content")
			if got := jsonOf(t, res.Rows); got != tt.want {
				t.Fatalf("rows %s\nwant %s", got, tt.want)
			}
		})
	}
	f.views[ViewMemories] = View{Files: []File{{Path: fresh}}}
	res := f.mustExec(t, "SELECT expires_at FROM memories WHERE id = 'exp'")
	if got := jsonOf(t, res.Rows); got != `[["2026-11-01T11:20:30.123456Z"]]` {
		t.Fatalf("expires_at %s", got)
	}
}
