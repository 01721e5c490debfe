package age

import (
	"context"
	"errors"
	"fmt"
	"math"
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

func ctxT(t testing.TB) context.Context {
	return testenv.Context(t)
}

func openLake(t testing.TB, s storage.Store) *lake.Lake {
	t.Helper()
	l, err := lake.Open(ctxT(t), s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// fixture: 400 memories of 2 systems over 10 days from gen.Base, ingested
// in batches of 50 (so partitions have several files), then a quarter of
// them re-sent with new content; and a few entities and relations.
type fixture struct {
	l      *lake.Lake
	latest map[string]schemas.Memory // system_id/id -> latest version
}

func newFixture(t *testing.T, s storage.Store) *fixture {
	t.Helper()
	ctx := ctxT(t)
	f := &fixture{l: openLake(t, s), latest: map[string]schemas.Memory{}}
	recs := gen.Memories(3, 400, 2, 10)
	for i := 0; i < len(recs); i += 50 {
		if _, err := f.l.AppendMemories(ctx, recs[i:i+50]); err != nil {
			t.Fatal(err)
		}
	}
	var again []schemas.Memory
	for i := 0; i < len(recs); i += 4 {
		m := recs[i]
		m.Content = "v2 " + m.ID
		again = append(again, m)
	}
	if _, err := f.l.AppendMemories(ctx, again); err != nil {
		t.Fatal(err)
	}
	for _, r := range append(recs, again...) {
		f.latest[r.SystemID+"/"+r.ID] = r
	}
	var ents []schemas.Entity
	var rels []schemas.Relation
	for d := range 10 {
		at := gen.Base.AddDate(0, 0, d).Add(time.Hour)
		ents = append(ents, schemas.Entity{SystemID: "sys-000", ID: fmt.Sprintf("e%d", d), Name: fmt.Sprintf("E%d", d),
			EntityType: "thing", CreatedAt: at})
		rels = append(rels, schemas.Relation{SystemID: "sys-000", ID: fmt.Sprintf("r%d", d), FromEntity: "E0",
			ToEntity: fmt.Sprintf("E%d", d), RelationType: "knows", CreatedAt: at})
	}
	if _, err := f.l.AppendEntities(ctx, ents); err != nil {
		t.Fatal(err)
	}
	if _, err := f.l.AppendRelations(ctx, rels); err != nil {
		t.Fatal(err)
	}
	return f
}

// at returns the time at which gen.Base+day is exactly age days old.
func at(day, age int) time.Time { return gen.Base.AddDate(0, 0, day+1+age).Add(time.Hour) }

// check reads every live memories file and verifies that each record is
// there, its latest version winning, in the tier and encoding expected for
// its day, with its embedding within the encoding's error; and that moved
// records are there exactly once (hot partitions keep re-sent versions
// side by side until compaction or a move collapses them).
func (f *fixture) check(t *testing.T, tierOf func(day string) string) {
	t.Helper()
	ctx := ctxT(t)
	tb, _ := f.l.Table(schemas.TableMemories)
	snap, err := tb.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	newest := map[string]schemas.MemoryRow{}
	moved := map[string]bool{}
	for a := range snap.AllFiles() {
		p, err := lake.PartitionOf(a.PartitionValues)
		if err != nil {
			t.Fatal(err)
		}
		if want := tierOf(p.Day); p.Tier != want {
			t.Errorf("%s: tier %s, want %s", a.Path, p.Tier, want)
		}
		wantEnc := lake.EncodingFloat32
		if p.Tier != schemas.TierHot {
			wantEnc = lake.EncodingInt8
		}
		if enc := lake.EncodingOf(a); enc != wantEnc {
			t.Errorf("%s: encoding %q, want %q", a.Path, enc, wantEnc)
		}
		if !strings.HasPrefix(a.Path, "tier="+p.Tier+"/") {
			t.Errorf("%s: path outside its partition %s", a.Path, p)
		}
		err = tb.ReadMemories(ctx, a, func(rows []schemas.MemoryRow) {
			for _, r := range rows {
				key := r.SystemID + "/" + r.ID
				seen[key]++
				if p.Tier != schemas.TierHot {
					moved[key] = true
				}
				if n, ok := newest[key]; !ok || !r.IngestedAt.Before(n.IngestedAt) {
					newest[key] = r
				}
				want, ok := f.latest[key]
				if !ok {
					t.Fatalf("unknown record %s", key)
				}
				if schemas.Day(r.CreatedAt) != p.Day {
					t.Fatalf("%s: created %v in partition of day %s", key, r.CreatedAt, p.Day)
				}
				tol := 1e-7
				if wantEnc == lake.EncodingInt8 {
					tol = maxAbs(want.Embedding)/127/2 + 1e-6
				}
				for i, x := range want.Embedding {
					if d := math.Abs(float64(r.Embedding[i] - x)); d > tol {
						t.Fatalf("%s[%d]: %v, want %v within %v", key, i, r.Embedding[i], x, tol)
					}
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != len(f.latest) {
		t.Errorf("%d records live, want %d", len(seen), len(f.latest))
	}
	for key, n := range seen {
		if n != 1 && moved[key] {
			t.Errorf("%s: %d rows, want 1 (a move collapses versions)", key, n)
		}
		if got, want := newest[key].Content, f.latest[key].Content; got != want {
			t.Errorf("%s: latest content %q, want %q", key, got, want)
		}
	}
}

func maxAbs(v []float32) float64 {
	var m float64
	for _, x := range v {
		m = max(m, math.Abs(float64(x)))
	}
	return m
}

func TestAgeMovesThroughTiersAndDeletes(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		ctx := ctxT(t)
		f := newFixture(t, s)

		// Day 4 is exactly 7 days old: days 0..4 go warm, 5..9 stay hot.
		now := at(4, 7)
		sum, err := Run(ctx, f.l, Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		// memories, entities and relations: 5 days each (a day's partition
		// holds every system).
		if sum.Moved != 15 || sum.Deleted != 0 || sum.Skipped != 0 || sum.Failed != 0 {
			t.Fatalf("first run: %d moved, %d deleted, %d skipped, %d failed", sum.Moved, sum.Deleted, sum.Skipped, sum.Failed)
		}
		if sum.BytesOut >= sum.BytesIn {
			t.Errorf("warm files are not smaller: %d bytes in, %d out", sum.BytesIn, sum.BytesOut)
		}
		f.check(t, func(day string) string {
			if day <= "2026-11-05" {
				return schemas.TierWarm
			}
			return schemas.TierHot
		})

		// The move commits: removes and adds with dataChange=true (the tier
		// column and the embedding's encoding change), the adds tagged int8
		// and in the warm partition, under an operation of its own.
		tb, _ := f.l.Table(schemas.TableMemories)
		snap := tb.Cached()
		acts, err := tb.Log.ReadCommit(ctx, snap.Version)
		if err != nil {
			t.Fatal(err)
		}
		var adds, removes int
		for _, a := range acts {
			switch {
			case a.Add != nil:
				adds++
				if !a.Add.DataChange || a.Add.Tags[lake.EncodingTag] != lake.EncodingInt8 || *a.Add.PartitionValues["tier"] != "warm" {
					t.Errorf("move add: %+v", a.Add)
				}
			case a.Remove != nil:
				removes++
				if !a.Remove.DataChange || *a.Remove.PartitionValues["tier"] != "hot" {
					t.Errorf("move remove: %+v", a.Remove)
				}
			}
		}
		for _, a := range acts {
			if a.CommitInfo != nil && a.CommitInfo["operation"] != "AKOSHA TIER MOVE" {
				t.Errorf("last move's operation %v", a.CommitInfo["operation"])
			}
		}
		if adds != 1 || removes < 2 {
			t.Errorf("last move: %d adds, %d removes", adds, removes)
		}

		// Nothing more to do at the same moment: the job is idempotent.
		sum, err = Run(ctx, f.l, Options{Now: now})
		if err != nil || len(sum.Results) != 0 {
			t.Fatalf("second run: %+v %v", sum, err)
		}

		// 90 days after day 9: everything cold, hot and warm alike.
		sum, err = Run(ctx, f.l, Options{Now: at(9, 90)})
		// 10 days of memories, entities and relations.
		if err != nil || sum.Moved != 30 || sum.Failed != 0 {
			t.Fatalf("to cold: %d moved, %d failed, %v", sum.Moved, sum.Failed, err)
		}
		f.check(t, func(string) string { return schemas.TierCold })
		for _, name := range lake.Tables {
			tb, _ := f.l.Table(name)
			for a := range tb.Cached().AllFiles() {
				if *a.PartitionValues["tier"] != "cold" {
					t.Errorf("%s: %s not cold", name, a.Path)
				}
				if name != schemas.TableMemories && lake.EncodingOf(a) != lake.EncodingFloat32 {
					t.Errorf("%s: %s encoded %q", name, a.Path, lake.EncodingOf(a))
				}
			}
		}

		// Past retention for days 0..2 only, then for all.
		sum, err = Run(ctx, f.l, Options{Now: at(2, 2555)})
		if err != nil || sum.Deleted != 3+3+3 || sum.Moved != 0 {
			t.Fatalf("retention: %d deleted, %d moved, %v", sum.Deleted, sum.Moved, err)
		}
		for key, r := range f.latest {
			if schemas.Day(r.CreatedAt) <= "2026-11-03" {
				delete(f.latest, key)
			}
		}
		f.check(t, func(string) string { return schemas.TierCold })
		acts, err = tb.Log.ReadCommit(ctx, tb.Cached().Version)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range acts {
			if a.Add != nil || (a.Remove != nil && !a.Remove.DataChange) {
				t.Errorf("a retention delete is removes with dataChange=true: %+v", a)
			}
		}
		if _, err := Run(ctx, f.l, Options{Now: at(9, 3000)}); err != nil {
			t.Fatal(err)
		}
		for _, name := range lake.Tables {
			tb, _ := f.l.Table(name)
			if n := tb.Cached().NumFiles(); n != 0 {
				t.Errorf("%s: %d files live past retention", name, n)
			}
		}
	})
}

func TestDryRunChangesNothing(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t, testenv.Local(t))
	tb, _ := f.l.Table(schemas.TableMemories)
	v := tb.Cached().Version
	sum, err := Run(ctx, f.l, Options{Now: at(9, 90), DryRun: true, Tables: []string{schemas.TableMemories}})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Results) != 10 || sum.Moved != 0 {
		t.Fatalf("dry run: %d results, %d moved", len(sum.Results), sum.Moved)
	}
	for _, r := range sum.Results {
		if r.Status != StatusPlanned || r.Kind != "hot->cold" {
			t.Fatalf("dry run result: %+v", r)
		}
	}
	snap, err := tb.Refresh(ctx)
	if err != nil || snap.Version != v {
		t.Fatalf("dry run committed: version %d -> %d (%v)", v, snap.Version, err)
	}
	objs, err := f.l.Store().List(ctx, "memories/tier=cold/")
	if err != nil || len(objs) != 0 {
		t.Fatalf("dry run wrote %d objects (%v)", len(objs), err)
	}
}

// A move whose inputs another commit removed (here: a compaction-like
// rewrite that won the race) aborts, deletes what it wrote, and the next
// run moves the winner's files instead.
func TestMoveAbortsWhenAnInputWasRemoved(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		ctx := ctxT(t)
		f := newFixture(t, s)
		tb, _ := f.l.Table(schemas.TableMemories)
		opts := Options{Now: at(9, 7), Tables: []string{schemas.TableMemories}}
		moves, err := PlanSnapshot(tb.Cached(), opts)
		if err != nil || len(moves) == 0 {
			t.Fatalf("plan: %d moves, %v", len(moves), err)
		}
		m := moves[0]

		// Another process rewrites the same partition in place and commits first.
		other := openLake(t, s)
		otb, _ := other.Table(schemas.TableMemories)
		var inputs []delta.Add
		for _, fi := range m.Files {
			a, _ := otb.Cached().File(fi.Path)
			inputs = append(inputs, a)
		}
		rw, err := otb.Rewrite(ctx, inputs, m.From, lake.DefaultLayouts()[schemas.TierHot], 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		acts := []delta.Action{}
		for _, a := range inputs {
			r := a.RemoveAt(time.Now().UnixMilli())
			r.DataChange = false
			acts = append(acts, delta.Action{Remove: &r})
		}
		for _, df := range rw.Files {
			a := df.Add(schemas.TableMemories, false)
			acts = append(acts, delta.Action{Add: &a})
		}
		if _, err := otb.Commit(ctx, acts); err != nil {
			t.Fatal(err)
		}

		res := RunMove(ctx, tb, m, opts)
		if res.Status != StatusSkipped {
			t.Fatalf("move after losing the race: %+v", res)
		}

		// The same race, found later: the winner's removed files are
		// already deleted by vacuum when the move reads them.
		m2 := moves[1]
		var inputs2 []delta.Add
		for _, fi := range m2.Files {
			a, _ := otb.Cached().File(fi.Path)
			inputs2 = append(inputs2, a)
		}
		rw2, err := otb.Rewrite(ctx, inputs2, m2.From, lake.DefaultLayouts()[schemas.TierHot], 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		acts = acts[:0]
		for _, a := range inputs2 {
			r := a.RemoveAt(time.Now().UnixMilli())
			r.DataChange = false
			acts = append(acts, delta.Action{Remove: &r})
		}
		for _, df := range rw2.Files {
			a := df.Add(schemas.TableMemories, false)
			acts = append(acts, delta.Action{Add: &a})
		}
		if _, err := otb.Commit(ctx, acts); err != nil {
			t.Fatal(err)
		}
		for _, a := range inputs2 {
			k, _ := otb.Log.DataKey(a.Path)
			if err := s.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		if res := RunMove(ctx, tb, m2, opts); res.Status != StatusSkipped || !errors.Is(res.Err, delta.ErrConflict) {
			t.Fatalf("move whose inputs were deleted meanwhile: %+v", res)
		}
		warmDir := m.From
		warmDir.Tier = schemas.TierWarm
		if objs, err := s.List(ctx, warmDir.Dir(schemas.TableMemories)+"/"); err != nil || len(objs) != 0 {
			t.Fatalf("the aborted move left %d objects (%v)", len(objs), err)
		}
		if _, err := Run(ctx, f.l, opts); err != nil {
			t.Fatal(err)
		}
		f.check(t, func(day string) string { return schemas.TierWarm })
	})
}
