package compact

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// ingestBatches appends recs in batches of size n, one commit each, as a
// stream of small ingest requests leaves them.
func ingestBatches(t testing.TB, l *lake.Lake, recs []schemas.Memory, n int) {
	t.Helper()
	for i := 0; i < len(recs); i += n {
		if _, err := l.AppendMemories(context.Background(), recs[i:min(i+n, len(recs))]); err != nil {
			t.Fatal(err)
		}
	}
}

// liveMemories reads every row of the latest snapshot's files, by key.
func liveMemories(t testing.TB, l *lake.Lake) (map[string][]schemas.MemoryRow, *delta.Snapshot) {
	t.Helper()
	tb, _ := l.Table(schemas.TableMemories)
	snap, err := tb.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]schemas.MemoryRow{}
	for a := range snap.AllFiles() {
		key, _ := tb.Log.DataKey(a.Path)
		_, err := readRows(context.Background(), l.Store(), key, func(rows []schemas.MemoryRow) {
			for _, r := range rows {
				out[r.SystemID+"/"+r.ID] = append(out[r.SystemID+"/"+r.ID], r)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out, snap
}

func openLake(t testing.TB, s storage.Store) *lake.Lake {
	t.Helper()
	l, err := lake.Open(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestCompactMergesAndCollapses(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		ctx := context.Background()
		l := openLake(t, s)
		recs := gen.Memories(1, 600, 3, 2)
		ingestBatches(t, l, recs, 20)
		// Re-send a third of them with new content, in small batches too.
		var again []schemas.Memory
		for i := 0; i < len(recs); i += 3 {
			m := recs[i]
			m.Content = "v2 " + m.ID
			again = append(again, m)
		}
		ingestBatches(t, l, again, 25)
		before, snap0 := liveMemories(t, l)
		if len(before) != 600 {
			t.Fatalf("keys before: %d", len(before))
		}
		filesBefore := snap0.NumFiles()

		sum, err := Run(ctx, l, Options{})
		if err != nil {
			t.Fatal(err)
		}
		tot := sum.Totals()
		if tot.Compacted == 0 || tot.Failed != 0 || tot.Skipped != 0 {
			t.Fatalf("summary: %+v", tot)
		}
		if tot.RowsIn != 800 || tot.RowsOut != 600 {
			t.Fatalf("rows in/out %d/%d, want 800/600", tot.RowsIn, tot.RowsOut)
		}
		after, snap := liveMemories(t, l)
		if snap.NumFiles() >= filesBefore || snap.NumFiles() != 2 { // one per day, 3 systems in each
			t.Fatalf("files %d -> %d, want 2", filesBefore, snap.NumFiles())
		}
		// Each output is sorted by (system_id, created_at), and its add
		// records the systems it holds, so readers skip by statistics.
		tbl, _ := l.Table(schemas.TableMemories)
		for a := range snap.AllFiles() {
			if lo, hi, ok := lake.SystemRange(a); !ok || lo != "sys-000" || hi != "sys-002" {
				t.Errorf("%s: system_id range %q..%q %v", a.Path, lo, hi, ok)
			}
			key, _ := tbl.Log.DataKey(a.Path)
			var prev *schemas.MemoryRow
			_, err := readRows(ctx, l.Store(), key, func(rows []schemas.MemoryRow) {
				for i := range rows {
					r := &rows[i]
					if prev != nil && (r.SystemID < prev.SystemID || r.SystemID == prev.SystemID && r.CreatedAt.Before(prev.CreatedAt)) {
						t.Errorf("%s: %s/%s at %v after %s/%s at %v", a.Path, r.SystemID, r.ID, r.CreatedAt, prev.SystemID, prev.ID, prev.CreatedAt)
					}
					cp := *r
					prev = &cp
				}
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, m := range recs {
			rows := after[m.SystemID+"/"+m.ID]
			if len(rows) != 1 {
				t.Fatalf("%s: %d versions after compaction", m.ID, len(rows))
			}
		}
		for _, m := range again {
			if got := after[m.SystemID+"/"+m.ID][0].Content; got != m.Content {
				t.Fatalf("%s: content %q, want the re-sent %q", m.ID, got, m.Content)
			}
		}
		// Every merge here collapsed versions (each partition got re-sent
		// records), so its commit changes data: dataChange=true on every
		// action, as the Delta protocol requires when rows are dropped.
		tb, _ := l.Table(schemas.TableMemories)
		acts, err := tb.Log.ReadCommit(ctx, snap.Version)
		if err != nil {
			t.Fatal(err)
		}
		var adds, removes int
		for _, a := range acts {
			switch {
			case a.Add != nil:
				adds++
				if !a.Add.DataChange {
					t.Fatal("a merge that dropped versions: add with dataChange=false")
				}
				if st, err := a.Add.ParsedStats(); err != nil || st.NumRecords <= 0 {
					t.Fatalf("add stats: %+v %v", st, err)
				}
			case a.Remove != nil:
				removes++
				if !a.Remove.DataChange {
					t.Fatal("a merge that dropped versions: remove with dataChange=false")
				}
			case a.CommitInfo != nil:
				if a.CommitInfo["operation"] != "OPTIMIZE" {
					t.Fatalf("operation %v", a.CommitInfo["operation"])
				}
			}
		}
		if adds != 1 || removes < 2 {
			t.Fatalf("last commit: %d adds, %d removes", adds, removes)
		}
		// A second run finds nothing to do.
		sum, err = Run(ctx, l, Options{})
		if err != nil || sum.Totals().Groups != 0 {
			t.Fatalf("second run: %+v %v", sum.Totals(), err)
		}
	})
}

func TestCompactSplitsToTarget(t *testing.T) {
	ctx := context.Background()
	l := openLake(t, testenv.Local(t))
	recs := gen.Memories(2, 1200, 1, 1)
	ingestBatches(t, l, recs, 100)
	_, snap := liveMemories(t, l)
	var total int64
	for a := range snap.AllFiles() {
		total += a.Size
	}
	target := total/3 + 1
	sum, err := Run(ctx, l, Options{TargetSize: target})
	if err != nil {
		t.Fatal(err)
	}
	after, snap := liveMemories(t, l)
	if len(after) != 1200 {
		t.Fatalf("keys after: %d", len(after))
	}
	for a := range snap.AllFiles() {
		if a.Size > target*5/4 {
			t.Errorf("output %s is %d bytes, target %d", a.Path, a.Size, target)
		}
	}
	if sum.Totals().FilesOut < 2 {
		t.Fatalf("expected several outputs: %+v", sum.Totals())
	}
}

func TestCompactAbortsWhenAnInputWasRemoved(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		ctx := context.Background()
		l := openLake(t, s)
		ingestBatches(t, l, gen.Memories(3, 100, 1, 1), 10)
		tb, _ := l.Table(schemas.TableMemories)
		snap, _ := tb.Refresh(ctx)
		groups, err := PlanSnapshot(snap, PlanOptions{})
		if err != nil || len(groups) != 1 {
			t.Fatalf("plan: %+v %v", groups, err)
		}
		// Another process (its own lake) compacts one of the inputs away
		// after this one planned and cached the snapshot.
		other := openLake(t, s)
		ot, _ := other.Table(schemas.TableMemories)
		osnap, _ := ot.Refresh(ctx)
		victim, _ := osnap.File(groups[0].Files[3].Path)
		rm := victim.RemoveAt(time.Now().UnixMilli())
		if _, err := ot.Commit(ctx, []delta.Action{{Remove: &rm}}); err != nil {
			t.Fatal(err)
		}
		keysBefore := listData(t, s)

		res := CompactGroup(ctx, l, schemas.TableMemories, groups[0], Options{})
		if res.Status != StatusSkipped || !errors.Is(res.Err, delta.ErrConflict) {
			t.Fatalf("result: %+v", res)
		}
		// Its outputs are gone: the store holds exactly what it held.
		if got := listData(t, s); strings.Join(got, ",") != strings.Join(keysBefore, ",") {
			t.Fatalf("outputs left behind:\nbefore %v\nafter  %v", keysBefore, got)
		}
		// The table is as the other process left it.
		snap2, _ := tb.Refresh(ctx)
		if snap2.Version != osnap.Version+1 || snap2.NumFiles() != 9 {
			t.Fatalf("version %d files %d", snap2.Version, snap2.NumFiles())
		}
		// The next run plans afresh and succeeds.
		sum, err := Run(ctx, l, Options{})
		if err != nil || sum.Totals().Compacted != 1 {
			t.Fatalf("retry: %+v %v", sum.Totals(), err)
		}
	})
}

func listData(t testing.TB, s storage.Store) []string {
	t.Helper()
	objs, err := s.List(context.Background(), "memories/tier=")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.Key)
	}
	return out
}

func TestDryRunChangesNothing(t *testing.T) {
	ctx := context.Background()
	s := testenv.Local(t)
	l := openLake(t, s)
	ingestBatches(t, l, gen.Memories(4, 50, 1, 1), 10)
	tb, _ := l.Table(schemas.TableMemories)
	v0 := tb.Cached().Version
	keys := listData(t, s)
	sum, err := Run(ctx, l, Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if tot := sum.Totals(); tot.Groups != 1 || tot.Compacted != 0 || sum.Results[0].Status != StatusPlanned || sum.Results[0].FilesIn != 5 {
		t.Fatalf("dry run: %+v %+v", tot, sum.Results)
	}
	snap, _ := tb.Refresh(ctx)
	if snap.Version != v0 || fmt.Sprint(listData(t, s)) != fmt.Sprint(keys) {
		t.Fatal("dry run changed the lake")
	}
}

func TestCompactEntitiesAndRelations(t *testing.T) {
	ctx := context.Background()
	l := openLake(t, testenv.S3(t))
	base := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	for b := range 4 {
		var ents []schemas.Entity
		var rels []schemas.Relation
		for i := range 10 {
			id := fmt.Sprintf("e%d", (b*10+i)%30) // batch 3 re-sends batch 0's ids
			ents = append(ents, schemas.Entity{SystemID: "s1", ID: id, Name: fmt.Sprintf("name-%d", b), EntityType: "t", CreatedAt: base, UpdatedAt: base})
			rels = append(rels, schemas.Relation{SystemID: "s1", ID: "r" + id, FromEntity: "a", ToEntity: "b", RelationType: fmt.Sprintf("rel-%d", b), CreatedAt: base})
		}
		if _, err := l.AppendEntities(ctx, ents); err != nil {
			t.Fatal(err)
		}
		if _, err := l.AppendRelations(ctx, rels); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := Run(ctx, l, Options{Tables: []string{schemas.TableEntities, schemas.TableRelations}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{schemas.TableEntities, schemas.TableRelations} {
		ts := sum.Tables[name]
		if ts.Compacted != 1 || ts.RowsIn != 40 || ts.RowsOut != 30 {
			t.Fatalf("%s: %+v", name, ts)
		}
	}
	tb, _ := l.Table(schemas.TableEntities)
	snap := tb.Cached()
	files := snap.Files()
	if len(files) != 1 {
		t.Fatalf("entity files: %d", len(files))
	}
	key, _ := tb.Log.DataKey(files[0].Path)
	names := map[string]string{}
	readRows(ctx, l.Store(), key, func(rows []schemas.EntityRow) {
		for _, r := range rows {
			names[r.ID] = r.Name
		}
	})
	if names["e0"] != "name-3" || names["e9"] != "name-3" || names["e10"] != "name-1" {
		t.Fatalf("latest did not win: %v", names)
	}
}

func readRows[R any](ctx context.Context, store storage.Store, key string, fn func([]R)) (int, error) {
	return 0, lake.ReadFileRows(ctx, store, key, fn)
}

// A partition a tier move has reserved is left alone: the move is
// rewriting it, and a merge would only make the move lose its race. Once
// the claim is released, compaction merges it again.
func TestCompactLeavesReservedPartitions(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		ctx := context.Background()
		l, err := lake.Open(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		recs := gen.Memories(11, 60, 1, 1) // one partition
		ingestBatches(t, l, recs, 20)
		tb, _ := l.Table(schemas.TableMemories)
		var part lake.Partition
		for a := range tb.Cached().AllFiles() {
			part, _ = lake.PartitionOf(a.PartitionValues)
		}
		release, err := tb.Reserve(ctx, part, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := Run(ctx, l, Options{Tables: []string{schemas.TableMemories}})
		if err != nil || sum.Totals().Groups != 0 {
			t.Fatalf("while reserved: %d groups planned (%v), want none", sum.Totals().Groups, err)
		}
		release()
		if got, err := tb.Reserved(ctx); err != nil || len(got) != 0 {
			t.Fatalf("after release: reserved %v (%v)", got, err)
		}
		sum, err = Run(ctx, l, Options{Tables: []string{schemas.TableMemories}})
		if err != nil || sum.Totals().Compacted != 1 {
			t.Fatalf("after release: %+v (%v), want one group compacted", sum.Totals(), err)
		}
		// No record was re-sent, so that merge is a pure rearrangement of
		// the same rows: the one case where dataChange=false is allowed.
		acts, err := tb.Log.ReadCommit(ctx, sum.Results[0].Version)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range acts {
			if a.Add != nil && a.Add.DataChange || a.Remove != nil && a.Remove.DataChange {
				t.Fatalf("a merge that dropped nothing changed data: %+v %+v", a.Add, a.Remove)
			}
		}
		// An expired claim holds nothing off, and the next claim clears it.
		if _, err := tb.Reserve(ctx, part, -time.Second); err != nil {
			t.Fatal(err)
		}
		if got, _ := tb.Reserved(ctx); len(got) != 0 {
			t.Fatalf("expired claim still counts: %v", got)
		}
		rel2, err := tb.Reserve(ctx, part, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		defer rel2()
		if objs, _ := s.List(ctx, "_reserved/"); len(objs) != 1 {
			t.Fatalf("%d claim objects, want the live one only", len(objs))
		}
	})
}
