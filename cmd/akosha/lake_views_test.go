package main

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/jobs/age"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// The DuckDB view an engine without Akosha would use, run by DuckDB itself
// over a lake with hot and warm memories: every embedding comes back as
// floats, within the int8 codes' error, whatever the tier. (The delta
// extension that delta_scan needs cannot be installed here, so the test
// reads the live files the log names, as delta_scan would.)
func TestLakeViewsRestoreWarmEmbeddingsInDuckDB(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := storage.NewLocal(dir)
	l, err := lake.Open(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	recs := gen.Memories(8, 60, 2, 2)
	if _, err := l.AppendMemories(ctx, recs); err != nil {
		t.Fatal(err)
	}
	// Day one goes warm (int8); day two stays hot.
	now := gen.Base.AddDate(0, 0, 9).Add(12 * 3600e9)
	if _, err := age.Run(ctx, l, age.Options{Tables: []string{schemas.TableMemories}, Now: now,
		Policy: age.Policy{WarmAfter: 8, ColdAfter: 90, DeleteAfter: 1000}}); err != nil {
		t.Fatal(err)
	}

	out, err := run(t, "lake", "views", "--lake", dir, "--engine", "duckdb")
	if err != nil {
		t.Fatal(err)
	}
	source := "delta_scan(" + sqlString(dir+"/memories") + ")"
	if !strings.Contains(out, source) {
		t.Fatalf("the view does not read %s:\n%s", source, out)
	}
	tb := delta.NewTable(s, schemas.TableMemories)
	snap, err := tb.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	tiers := map[string]bool{}
	for a := range snap.AllFiles() {
		files = append(files, sqlString(filepath.Join(dir, "memories", a.Path)))
		tiers[*a.PartitionValues["tier"]] = true
	}
	if !tiers[schemas.TierHot] || !tiers[schemas.TierWarm] {
		t.Fatalf("tiers %v: want hot and warm", tiers)
	}
	stmt := strings.Replace(out, source, fmt.Sprintf("read_parquet([%s], hive_partitioning = true, union_by_name = true)",
		strings.Join(files, ", ")), 1)

	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(stmt); err != nil {
		t.Fatalf("%v\n%s", err, stmt)
	}
	want := map[string][]float32{}
	for _, m := range recs {
		want[m.SystemID+"/"+m.ID] = m.Embedding
	}
	rows, err := db.Query("SELECT system_id || '/' || id, tier, embedding FROM akosha_memories")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[string]int{}
	for rows.Next() {
		var key, tier string
		var emb []any
		if err := rows.Scan(&key, &tier, &emb); err != nil {
			t.Fatal(err)
		}
		seen[tier]++
		w := want[key]
		if len(emb) != len(w) {
			t.Fatalf("%s (%s): %d floats, want %d", key, tier, len(emb), len(w))
		}
		maxAbs := 0.0
		for _, x := range w {
			maxAbs = math.Max(maxAbs, math.Abs(float64(x)))
		}
		tol := 1e-7
		if tier != schemas.TierHot {
			tol = maxAbs/127/2 + 1e-6
		}
		for i, x := range emb {
			if d := math.Abs(float64(x.(float32)) - float64(w[i])); d > tol {
				t.Fatalf("%s (%s)[%d]: %v, want %v within %v", key, tier, i, x, w[i], tol)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if seen[schemas.TierHot] == 0 || seen[schemas.TierWarm] == 0 || seen[schemas.TierHot]+seen[schemas.TierWarm] != len(recs) {
		t.Fatalf("rows by tier %v, want all %d across hot and warm", seen, len(recs))
	}
}

func TestLakeViewsForEachEngine(t *testing.T) {
	cols := []string{"system_id", "id", "embedding", "embedding_i8", "embedding_scale", "tier"}
	for engine, want := range map[string]string{
		"duckdb": "list_transform(embedding_i8, x -> CAST(x AS FLOAT) * embedding_scale)",
		"spark":  "transform(embedding_i8, x -> CAST(x AS FLOAT) * embedding_scale)",
		"trino":  "transform(embedding_i8, x -> CAST(x AS REAL) * embedding_scale)",
	} {
		got, err := memoriesViewSQL(engine, "v", "src", cols)
		if err != nil || !strings.Contains(got, want) || strings.Contains(got, "\n  embedding_i8") || !strings.Contains(got, "tier") {
			t.Errorf("%s: %v\n%s", engine, err, got)
		}
	}
	if _, err := memoriesViewSQL("sqlite", "v", "src", cols); err == nil {
		t.Error("an unknown engine was accepted")
	}
	if _, err := memoriesViewSQL("duckdb", "v", "src", []string{"id", "embedding"}); err == nil {
		t.Error("a table without the int8 columns was accepted")
	}
}
