package lake_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// oldMemoryRow is a memories row as the layout partitioned by system wrote
// it: no system_id column (the system was in the path).
type oldMemoryRow struct {
	ID         string    `parquet:"id,plain"`
	Kind       string    `parquet:"kind,dict"`
	Content    string    `parquet:"content,plain"`
	Embedding  []float32 `parquet:"embedding,optional,list"`
	CreatedAt  time.Time `parquet:"created_at,timestamp(microsecond)"`
	IngestedAt time.Time `parquet:"ingested_at,timestamp(microsecond)"`
}

type oldEntityRow struct {
	ID         string    `parquet:"id,plain"`
	Name       string    `parquet:"name,plain"`
	EntityType string    `parquet:"entity_type,dict"`
	CreatedAt  time.Time `parquet:"created_at,timestamp(microsecond)"`
	UpdatedAt  time.Time `parquet:"updated_at,timestamp(microsecond)"`
	IngestedAt time.Time `parquet:"ingested_at,timestamp(microsecond)"`
}

// oldLake writes a lake in the old layout: every table partitioned by
// (tier, system_id, day), memories of 3 systems over 2 hot days (two files
// a partition) and one warm day, one entities partition, an empty
// relations table. It returns the memories by system/id.
func oldLake(t *testing.T, s storage.Store) map[string]oldMemoryRow {
	t.Helper()
	ctx := testCtx(t)
	day0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	want := map[string]oldMemoryRow{}
	for _, name := range lake.Tables {
		schema, _ := schemas.DeltaSchemaString(name)
		log := delta.NewTable(s, name)
		snap, err := log.Create(ctx, delta.Metadata{Name: name, SchemaString: schema, PartitionColumns: lake.OldPartitionColumns, Configuration: map[string]string{}})
		if err != nil {
			t.Fatal(err)
		}
		var actions []delta.Action
		put := func(tier, sys, day string, rows any, tags map[string]string) {
			var buf bytes.Buffer
			var err error
			switch r := rows.(type) {
			case []oldMemoryRow:
				err = parquet.Write(&buf, r)
			case []schemas.QuantizedMemoryRow:
				err = parquet.Write(&buf, r)
			case []oldEntityRow:
				err = parquet.Write(&buf, r)
			}
			if err != nil {
				t.Fatal(err)
			}
			path := fmt.Sprintf("tier=%s/system_id=%s/day=%s/%d.parquet", tier, sys, day, len(actions))
			if err := s.Put(ctx, name+"/"+path, bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
				t.Fatal(err)
			}
			tr, sy, dy := tier, sys, day
			actions = append(actions, delta.Action{Add: &delta.Add{Path: path, Size: int64(buf.Len()), DataChange: true,
				ModificationTime: time.Now().UnixMilli(), Tags: tags,
				PartitionValues: map[string]*string{"tier": &tr, "system_id": &sy, "day": &dy}}})
		}
		switch name {
		case schemas.TableMemories:
			n := 0
			for _, sys := range []string{"sys-c", "sys-a", "sys-b"} {
				for d := range 2 {
					for range 2 { // two files a partition
						var rows []oldMemoryRow
						for range 5 {
							r := oldMemoryRow{ID: fmt.Sprintf("m%03d", n), Kind: "memory", Content: fmt.Sprintf("%s says %d", sys, n),
								Embedding: []float32{float32(n), 1, 2}, CreatedAt: day0.AddDate(0, 0, d).Add(time.Duration(100-n) * time.Minute),
								IngestedAt: day0.AddDate(0, 0, 3)}
							rows = append(rows, r)
							want[sys+"/"+r.ID] = r
							n++
						}
						put("hot", sys, schemas.Day(day0.AddDate(0, 0, d)), rows, nil)
					}
				}
				// A warm day, stored with int8 embeddings.
				r := oldMemoryRow{ID: fmt.Sprintf("w%03d", n), Kind: "memory", Content: sys + " long ago",
					Embedding: []float32{0.5, -0.5, 1}, CreatedAt: day0.AddDate(0, 0, -20), IngestedAt: day0}
				want[sys+"/"+r.ID] = r
				n++
				mr := schemas.MemoryRow{ID: r.ID, Kind: r.Kind, Content: r.Content, Embedding: r.Embedding, CreatedAt: r.CreatedAt, IngestedAt: r.IngestedAt}
				put("warm", sys, schemas.Day(r.CreatedAt), []schemas.QuantizedMemoryRow{mr.Quantized()}, map[string]string{lake.EncodingTag: lake.EncodingInt8})
			}
		case schemas.TableEntities:
			put("hot", "sys-a", "2026-11-01", []oldEntityRow{{ID: "e1", Name: "Go", EntityType: "language", CreatedAt: day0, UpdatedAt: day0, IngestedAt: day0}}, nil)
		}
		if len(actions) > 0 {
			if _, err := log.Commit(ctx, snap, actions); err != nil {
				t.Fatal(err)
			}
		}
	}
	return want
}

func TestMigrateRewritesTheOldLayout(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		ctx := testCtx(t)
		want := oldLake(t, s)

		// This version refuses to serve the old layout, and says how to
		// migrate it.
		if _, err := lake.Open(ctx, s); !errors.Is(err, lake.ErrOldLayout) || !strings.Contains(err.Error(), "akosha lake migrate") {
			t.Fatalf("open an old lake: %v", err)
		}

		// A crash midway: the run stops after its first (tier, day) was
		// staged. The log is untouched, the staged group is recorded.
		crashCtx, crash := context.WithCancel(ctx)
		_, err := lake.Migrate(crashCtx, s, lake.MigrateOptions{Progress: func(ev lake.MigrateEvent) {
			if ev.Index == 1 {
				crash()
			}
		}})
		crash()
		if err == nil {
			t.Fatal("migration went on after its context ended")
		}
		mem := delta.NewTable(s, schemas.TableMemories)
		snap, err := mem.Snapshot(ctx)
		if err != nil || !slices.Equal(snap.Metadata.PartitionColumns, lake.OldPartitionColumns) || snap.Version != 1 {
			t.Fatalf("after the crash: %v %+v", err, snap)
		}
		if objs, _ := s.List(ctx, "_migrate/memories/"); len(objs) != 1 {
			t.Fatalf("progress records after the crash: %v", objs)
		}

		// The second run reuses the staged group and commits each table once.
		res, err := lake.Migrate(ctx, s, lake.MigrateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		byTable := map[string]lake.MigrateResult{}
		for _, r := range res {
			byTable[r.Table] = r
		}
		m := byTable[schemas.TableMemories]
		// 3 systems x 2 hot days x 2 files + 3 warm files in; one file per
		// (tier, day) out: 2 hot days and 1 warm day.
		if m.Already || m.FilesIn != 15 || m.FilesOut != 3 || m.Rows != int64(len(want)) || m.Reused != 1 || m.Version != 2 {
			t.Fatalf("memories: %+v", m)
		}
		if e := byTable[schemas.TableEntities]; e.FilesIn != 1 || e.FilesOut != 1 || e.Rows != 1 {
			t.Fatalf("entities: %+v", e)
		}
		if r := byTable[schemas.TableRelations]; r.FilesIn != 0 || r.Version != 1 {
			t.Fatalf("relations: %+v", r)
		}
		if objs, _ := s.List(ctx, "_migrate/"); len(objs) != 0 {
			t.Fatalf("progress records left: %v", objs)
		}

		// One commit: the new partitioning, every old file removed and the
		// new ones added, dataChange=false (the same rows).
		acts, err := mem.ReadCommit(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		var metas, removes, adds int
		for _, a := range acts {
			switch {
			case a.MetaData != nil:
				metas++
				if !slices.Equal(a.MetaData.PartitionColumns, schemas.PartitionColumns) {
					t.Errorf("metaData partitionColumns %v", a.MetaData.PartitionColumns)
				}
			case a.Remove != nil:
				removes++
				if a.Remove.DataChange {
					t.Errorf("remove %s: dataChange=true", a.Remove.Path)
				}
			case a.Add != nil:
				adds++
				if a.Add.DataChange {
					t.Errorf("add %s: dataChange=true", a.Add.Path)
				}
			case a.CommitInfo != nil:
				if a.CommitInfo["operation"] != "AKOSHA MIGRATE" {
					t.Errorf("operation %v", a.CommitInfo["operation"])
				}
			}
		}
		if metas != 1 || removes != 15 || adds != 3 {
			t.Fatalf("the commit: %d metaData, %d removes, %d adds", metas, removes, adds)
		}

		// The lake opens; every row is there once, with its system, in
		// files sorted by (system_id, created_at) whose statistics bound
		// their systems.
		l, err := lake.Open(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		tb, _ := l.Table(schemas.TableMemories)
		got := map[string]schemas.MemoryRow{}
		for a := range tb.Cached().AllFiles() {
			if strings.Contains(a.Path, "system_id=") {
				t.Errorf("%s: still under a system's folder", a.Path)
			}
			if lo, hi, ok := lake.SystemRange(a); !ok || lo != "sys-a" || hi != "sys-c" {
				t.Errorf("%s: system range %q..%q %v", a.Path, lo, hi, ok)
			}
			var prev *schemas.MemoryRow
			err := tb.ReadMemories(ctx, a, func(rows []schemas.MemoryRow) {
				for i := range rows {
					r := rows[i]
					if prev != nil && (r.SystemID < prev.SystemID || r.SystemID == prev.SystemID && r.CreatedAt.Before(prev.CreatedAt)) {
						t.Errorf("%s: %s/%s after %s/%s", a.Path, r.SystemID, r.ID, prev.SystemID, prev.ID)
					}
					prev = &r
					got[r.SystemID+"/"+r.ID] = r
				}
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%d rows after migration, want %d", len(got), len(want))
		}
		for key, w := range want {
			g, ok := got[key]
			if !ok || g.Content != w.Content || !g.CreatedAt.Equal(w.CreatedAt) || len(g.Embedding) != 3 {
				t.Errorf("%s: %+v, want %+v", key, g, w)
			}
		}

		// Done is done: a third run changes nothing.
		res, err = lake.Migrate(ctx, s, lake.MigrateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if !r.Already {
				t.Errorf("%s migrated twice: %+v", r.Table, r)
			}
		}
	})
}

// A write that lands while a migration runs makes its commit refuse; the
// next run takes the new file too.
func TestMigrateRefusesAConcurrentWrite(t *testing.T) {
	ctx := testCtx(t)
	s := testenv.Local(t)
	want := oldLake(t, s)
	late := func() {
		mem := delta.NewTable(s, schemas.TableMemories)
		snap, err := mem.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		r := oldMemoryRow{ID: "late", Kind: "memory", Content: "late", CreatedAt: time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC)}
		if err := parquet.Write(&buf, []oldMemoryRow{r}); err != nil {
			t.Fatal(err)
		}
		path := "tier=hot/system_id=sys-z/day=2026-11-01/late.parquet"
		if err := s.Put(ctx, "memories/"+path, bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
			t.Fatal(err)
		}
		tr, sy, dy := "hot", "sys-z", "2026-11-01"
		if _, err := mem.Commit(ctx, snap, []delta.Action{{Add: &delta.Add{Path: path, Size: int64(buf.Len()), DataChange: true,
			PartitionValues: map[string]*string{"tier": &tr, "system_id": &sy, "day": &dy}}}}); err != nil {
			t.Fatal(err)
		}
		want["sys-z/late"] = r
	}
	wrote := false
	_, err := lake.Migrate(ctx, s, lake.MigrateOptions{Progress: func(ev lake.MigrateEvent) {
		if ev.Table == schemas.TableMemories && ev.Index == ev.Total && !wrote {
			wrote = true
			late()
		}
	}})
	if !errors.Is(err, delta.ErrConflict) {
		t.Fatalf("migration beside a write: %v", err)
	}
	res, err := lake.Migrate(ctx, s, lake.MigrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].FilesIn != 16 || res[0].Rows != int64(len(want)) || res[0].Reused != 2 {
		t.Fatalf("second run: %+v", res[0])
	}
}

// A lake in a layout it does not know is refused before anything is
// written.
func TestMigrateRefusesAnUnknownLayout(t *testing.T) {
	ctx := testCtx(t)
	s := testenv.Local(t)
	schema, _ := schemas.DeltaSchemaString(schemas.TableMemories)
	if _, err := delta.NewTable(s, schemas.TableMemories).Create(ctx, delta.Metadata{Name: "memories", SchemaString: schema,
		PartitionColumns: []string{"tier"}, Configuration: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	before, _ := s.List(ctx, "")
	_, err := lake.Migrate(ctx, s, lake.MigrateOptions{})
	if err == nil || !strings.Contains(err.Error(), "does not know") {
		t.Fatalf("unknown layout: %v", err)
	}
	after, _ := s.List(ctx, "")
	if len(after) != len(before) {
		t.Fatalf("objects %d -> %d", len(before), len(after))
	}
	if _, err := lake.Open(ctx, s); err == nil || !strings.Contains(err.Error(), "does not know") {
		t.Fatalf("open: %v", err)
	}
}

// A lake in the tier/day layout written before expires_at (issue 16): its
// memories schema lacks the column, which engines reading the log would
// never see. Migrate adds it in one metaData commit (a dry run only says
// so), the lake keeps its files and rows, and a second run does nothing.
func TestMigrateEvolvesTheSchema(t *testing.T) {
	ctx := testenv.Context(t)
	s := testenv.Local(t)
	want, err := schemas.DeltaSchemaString(schemas.TableMemories)
	if err != nil {
		t.Fatal(err)
	}
	old := strings.Replace(want, `{"name":"expires_at","type":"timestamp","nullable":true,"metadata":{}},`, "", 1)
	if old == want {
		t.Fatal("the test's old schema still has expires_at")
	}
	if _, err := delta.NewTable(s, schemas.TableMemories).Create(ctx, delta.Metadata{
		Name: schemas.TableMemories, SchemaString: old, PartitionColumns: schemas.PartitionColumns, Configuration: map[string]string{},
	}); err != nil {
		t.Fatal(err)
	}
	l, err := lake.Open(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendMemories(ctx, []schemas.Memory{{SystemID: "s", ID: "m", Content: "c", CreatedAt: time.Now().Add(-time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	res, err := lake.Migrate(ctx, s, lake.MigrateOptions{DryRun: true})
	if err != nil || !res[0].Evolved || res[0].Version != 0 || res[1].Evolved {
		t.Fatalf("dry run: %+v %v", res, err)
	}
	res, err = lake.Migrate(ctx, s, lake.MigrateOptions{})
	if err != nil || !res[0].Evolved || !res[0].Already || res[0].Version != 2 {
		t.Fatalf("migrate: %+v %v", res, err)
	}
	snap, err := delta.NewTable(s, schemas.TableMemories).Snapshot(ctx)
	if err != nil || snap.Metadata.SchemaString != want || len(snap.Files()) != 1 {
		t.Fatalf("after: schema %s, %d files, %v", snap.Metadata.SchemaString, len(snap.Files()), err)
	}
	res, err = lake.Migrate(ctx, s, lake.MigrateOptions{})
	if err != nil || res[0].Evolved || res[0].Version != 0 {
		t.Fatalf("second run: %+v %v", res, err)
	}
}
