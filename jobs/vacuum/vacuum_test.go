package vacuum

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/lake/vecindex"
	"github.com/akosha/akosha/schemas"
)

func openLake(t testing.TB, s storage.Store) *lake.Lake {
	t.Helper()
	l, err := lake.Open(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func ingest(t testing.TB, l *lake.Lake, recs []schemas.Memory, n int) {
	t.Helper()
	for i := 0; i < len(recs); i += n {
		if _, err := l.AppendMemories(context.Background(), recs[i:min(i+n, len(recs))]); err != nil {
			t.Fatal(err)
		}
	}
}

// removeFiles commits the removal of paths now.
func removeFiles(t testing.TB, l *lake.Lake, paths []string) {
	t.Helper()
	tb, _ := l.Table(schemas.TableMemories)
	snap, err := tb.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var acts []delta.Action
	for _, p := range paths {
		a, ok := snap.File(p)
		if !ok {
			t.Fatalf("%s not live", p)
		}
		r := a.RemoveAt(time.Now().UnixMilli())
		acts = append(acts, delta.Action{Remove: &r})
	}
	if _, err := tb.Commit(context.Background(), acts); err != nil {
		t.Fatal(err)
	}
}

func after(d time.Duration) func() time.Time { return func() time.Time { return time.Now().Add(d) } }

// assertLiveIntact checks every file of every table's latest snapshot (read
// by a fresh process) exists with its logged size.
func assertLiveIntact(t testing.TB, s storage.Store) {
	t.Helper()
	ctx := context.Background()
	for _, name := range lake.Tables {
		log := delta.NewTable(s, name)
		snap, err := log.Snapshot(ctx)
		if err != nil {
			t.Fatalf("%s: snapshot after vacuum: %v", name, err)
		}
		for a := range snap.AllFiles() {
			k, _ := log.DataKey(a.Path)
			info, err := s.Head(ctx, k)
			if err != nil || info.Size != a.Size {
				t.Fatalf("live file %s: %v (size %d, log %d)", k, err, info.Size, a.Size)
			}
		}
	}
}

func countKind(ts *TableSummary, k Kind) int { return ts.Deleted[k] }

func TestVacuumRemovedAndOrphans(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		ctx := context.Background()
		l := openLake(t, s)
		ingest(t, l, gen.Memories(1, 100, 1, 1), 20) // 5 files
		tb, _ := l.Table(schemas.TableMemories)
		snap, _ := tb.Refresh(ctx)
		var paths []string
		for _, f := range snap.Files() {
			paths = append(paths, f.Path)
		}
		removeFiles(t, l, paths[1:]) // as a compaction into paths[0] would
		// A crashed writer's file: staged, never committed.
		st, err := lake.StageMemories(ctx, s, gen.Memories(2, 5, 1, 1))
		if err != nil {
			t.Fatal(err)
		}
		orphan := st.Files[0].Key

		// Within the grace: nothing goes.
		sum, err := Run(ctx, l, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ms := sum.Tables[schemas.TableMemories]
		if n, _, _ := sum.Total(); n != 0 || ms.WithinGrace != 4 {
			t.Fatalf("within grace: deleted %d, kept %d recent tombstones", n, ms.WithinGrace)
		}
		// Dry run past the grace: the plan, nothing deleted.
		sum, err = Run(ctx, l, Options{Now: after(8 * 24 * time.Hour), DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		ms = sum.Tables[schemas.TableMemories]
		if countKind(ms, KindRemoved) != 4 || countKind(ms, KindOrphan) != 1 {
			t.Fatalf("dry run plan: %+v", ms.Deleted)
		}
		if _, err := s.Head(ctx, orphan); err != nil {
			t.Fatal("dry run deleted the orphan")
		}
		// Past the grace.
		sum, err = Run(ctx, l, Options{Now: after(8 * 24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		ms = sum.Tables[schemas.TableMemories]
		if countKind(ms, KindRemoved) != 4 || countKind(ms, KindOrphan) != 1 || ms.Failed != 0 {
			t.Fatalf("deleted: %+v", ms.Deleted)
		}
		if _, err := s.Head(ctx, orphan); err == nil {
			t.Fatal("orphan not deleted")
		}
		assertLiveIntact(t, s)
		objs, _ := s.List(ctx, "memories/tier=")
		if len(objs) != 1 {
			t.Fatalf("data objects left: %d, want the one live file", len(objs))
		}
		// Idempotent.
		sum, _ = Run(ctx, l, Options{Now: after(8 * 24 * time.Hour)})
		if n, _, _ := sum.Total(); n != 0 {
			t.Fatalf("second run deleted %d", n)
		}
	})
}

func TestVacuumOrphanGrace(t *testing.T) {
	ctx := context.Background()
	s := testenv.Local(t)
	l := openLake(t, s)
	if _, err := lake.StageMemories(ctx, s, gen.Memories(2, 5, 1, 1)); err != nil {
		t.Fatal(err)
	}
	// Removed files would go (grace 1 h) but a fresh orphan is within its own grace.
	sum, err := Run(ctx, l, Options{Grace: time.Hour, OrphanGrace: 48 * time.Hour, Now: after(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if n, _, _ := sum.Total(); n != 0 {
		t.Fatalf("deleted a staged file within the orphan grace")
	}
}

// A file the plan saw as removed is live again by the time of the deletes
// (its tombstone and a live add name the same path): it stays.
func TestVacuumNeverDeletesALiveFile(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		ctx := context.Background()
		l := openLake(t, s)
		ingest(t, l, gen.Memories(3, 40, 1, 1), 10) // 4 files
		tb, _ := l.Table(schemas.TableMemories)
		snap, _ := tb.Refresh(ctx)
		files := snap.Files()
		// Remove two files (tombstones dated long ago).
		old := time.Now().Add(-30 * 24 * time.Hour).UnixMilli()
		var acts []delta.Action
		for _, f := range files[:2] {
			r := f.RemoveAt(old)
			acts = append(acts, delta.Action{Remove: &r})
		}
		if _, err := tb.Commit(ctx, acts); err != nil {
			t.Fatal(err)
		}
		// ... and put one back between plan and delete.
		beforeFinalCheck = func() {
			other := openLake(t, s)
			ot, _ := other.Table(schemas.TableMemories)
			a := files[0]
			if _, err := ot.Commit(ctx, []delta.Action{{Add: &a}}); err != nil {
				t.Error(err)
			}
		}
		defer func() { beforeFinalCheck = nil }()
		sum, err := Run(ctx, l, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := sum.Tables[schemas.TableMemories].Deleted[KindRemoved]; got != 1 {
			t.Fatalf("deleted %d removed files, want 1 (the other is live again)", got)
		}
		k, _ := tb.Log.DataKey(files[0].Path)
		if _, err := s.Head(ctx, k); err != nil {
			t.Fatalf("live file deleted: %v", err)
		}
		k, _ = tb.Log.DataKey(files[1].Path)
		if _, err := s.Head(ctx, k); err == nil {
			t.Fatal("removed file kept")
		}
		assertLiveIntact(t, s)
	})
}

func TestVacuumLogBelowCheckpoint(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		ctx := context.Background()
		l := openLake(t, s)
		tb, _ := l.Table(schemas.TableMemories)
		tb.Log.CheckpointInterval = 5
		ingest(t, l, gen.Memories(4, 120, 1, 1), 10) // versions 1..12; checkpoints 5, 10
		if tb.Cached().Version != 12 {
			t.Fatalf("version %d", tb.Cached().Version)
		}
		before, _ := tb.Refresh(ctx)

		// Within the retention: nothing.
		sum, err := Run(ctx, l, Options{Tables: []string{schemas.TableMemories}})
		if err != nil {
			t.Fatal(err)
		}
		if n, _, _ := sum.Total(); n != 0 {
			t.Fatalf("deleted %d within retention", n)
		}
		sum, err = Run(ctx, l, Options{Tables: []string{schemas.TableMemories}, Now: after(31 * 24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		ms := sum.Tables[schemas.TableMemories]
		if ms.Deleted[KindLog] != 10 || ms.Deleted[KindCheckpoint] != 1 || ms.LogRetainedFrom != 10 {
			t.Fatalf("log deletes: %+v retained from %d", ms.Deleted, ms.LogRetainedFrom)
		}
		objs, _ := s.List(ctx, "memories/_delta_log/")
		var names []string
		for _, o := range objs {
			names = append(names, strings.TrimPrefix(o.Key, "memories/_delta_log/"))
		}
		want := fmt.Sprintf("%020d.checkpoint.parquet,%020d.json,%020d.json,%020d.json,_last_checkpoint", 10, 10, 11, 12)
		if strings.Join(names, ",") != want {
			t.Fatalf("log left:\n%s\nwant\n%s", strings.Join(names, ","), want)
		}
		// A fresh process loads the same table, and appends continue.
		l2 := openLake(t, s)
		tb2, _ := l2.Table(schemas.TableMemories)
		got := tb2.Cached()
		if got.Version != before.Version || got.NumFiles() != before.NumFiles() {
			t.Fatalf("reloaded: v%d %d files, want v%d %d", got.Version, got.NumFiles(), before.Version, before.NumFiles())
		}
		ingest(t, l2, gen.Memories(5, 10, 1, 1), 10)
		assertLiveIntact(t, s)
	})
}

func TestVacuumLogWithoutCheckpointKeepsAll(t *testing.T) {
	ctx := context.Background()
	s := testenv.Local(t)
	l := openLake(t, s)
	ingest(t, l, gen.Memories(4, 30, 1, 1), 10)
	sum, err := Run(ctx, l, Options{Now: after(365 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if n := sum.Tables[schemas.TableMemories].Deleted[KindLog]; n != 0 {
		t.Fatalf("deleted %d commits of a log without checkpoint", n)
	}
}

func TestVacuumIndexes(t *testing.T) {
	ctx := context.Background()
	s := testenv.S3(t)
	l := openLake(t, s)
	ingest(t, l, gen.Memories(6, 40, 1, 1), 10)
	tb, _ := l.Table(schemas.TableMemories)
	snap, _ := tb.Refresh(ctx)
	files := snap.Files()
	put := func(key string, paths []string) {
		b, _ := json.Marshal(map[string]any{"files": paths})
		if err := s.Put(ctx, key, bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
	}
	put("memories/_indexes/live.json", []string{files[0].Path, files[1].Path})
	put("memories/_indexes/stale.json", []string{files[2].Path, files[3].Path})
	removeFiles(t, l, []string{files[2].Path, files[3].Path})
	covers := func(ctx context.Context, st storage.Store, key string) ([]string, bool, error) {
		b, err := storage.ReadAll(ctx, st, key)
		if err != nil {
			return nil, false, err
		}
		var m struct{ Files []string }
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, false, nil
		}
		return m.Files, true, nil
	}
	sum, err := Run(ctx, l, Options{IndexCovers: covers, Now: after(8 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if n := sum.Tables[schemas.TableMemories].Deleted[KindIndex]; n != 1 {
		t.Fatalf("index deletes %d", n)
	}
	if _, err := s.Head(ctx, "memories/_indexes/live.json"); err != nil {
		t.Fatal("index over live files deleted")
	}
	if _, err := s.Head(ctx, "memories/_indexes/stale.json"); err == nil {
		t.Fatal("stale index kept")
	}
	// Without the hook, indexes are left alone.
	put("memories/_indexes/stale2.json", []string{files[2].Path})
	Run(ctx, l, Options{Now: after(8 * 24 * time.Hour)})
	if _, err := s.Head(ctx, "memories/_indexes/stale2.json"); err != nil {
		t.Fatal("index deleted without IndexCovers")
	}
}

func TestVacuumVecindexLayout(t *testing.T) {
	ctx := context.Background()
	s := testenv.Local(t)
	l := openLake(t, s)
	ingest(t, l, gen.Memories(7, 40, 1, 1), 10)
	tb, _ := l.Table(schemas.TableMemories)
	snap, _ := tb.Refresh(ctx)
	files := snap.Files()
	part, _ := lake.PartitionOf(files[0].PartitionValues)
	putIndex := func(id string, fs []delta.Add) vecindex.Keys {
		k := vecindex.KeysFor(schemas.TableMemories, part, id)
		m := vecindex.Manifest{Version: vecindex.FormatVersion, Table: schemas.TableMemories, Dim: vecindex.Dim,
			Index: vecindex.ObjRef{Key: k.Index, Size: 3}, Rows: vecindex.ObjRef{Key: k.Rows, Size: 3}}
		objs := map[string][]byte{k.Index: []byte("idx"), k.Rows: []byte("row")}
		if id != "01LIVE" { // the live one is from before full-text segments
			m.Text = vecindex.ObjRef{Key: k.Text, Size: 3}
			objs[k.Text] = []byte("fts")
		}
		for _, f := range fs {
			m.Files = append(m.Files, vecindex.FileRef{Path: f.Path, Size: f.Size, Vectors: 1})
			m.Vectors++
		}
		b, _ := json.Marshal(m)
		objs[k.Manifest] = b
		for key, body := range objs {
			if err := s.Put(ctx, key, bytes.NewReader(body), int64(len(body))); err != nil {
				t.Fatal(err)
			}
		}
		return k
	}
	live := putIndex("01LIVE", files[:2])
	stale := putIndex("01STALE", files[2:])
	crashed := vecindex.KeysFor(schemas.TableMemories, part, "01CRASHED")
	s.Put(ctx, crashed.Index, bytes.NewReader([]byte("x")), 1)
	s.Put(ctx, crashed.Text, bytes.NewReader([]byte("x")), 1)
	removeFiles(t, l, []string{files[2].Path})

	// Within the grace: the stale index may still be read.
	sum, err := Run(ctx, l, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := sum.Tables[schemas.TableMemories].Deleted[KindIndex]; n != 0 {
		t.Fatalf("deleted %d index objects within the grace", n)
	}
	sum, err = Run(ctx, l, Options{Now: after(8 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if n := sum.Tables[schemas.TableMemories].Deleted[KindIndex]; n != 6 {
		t.Fatalf("deleted %d index objects, want 6 (stale index x4 with its full-text segment, crashed build x2)", n)
	}
	for _, k := range []string{live.Manifest, live.Index, live.Rows} {
		if _, err := s.Head(ctx, k); err != nil {
			t.Fatalf("current index object %s deleted", k)
		}
	}
	for _, k := range []string{stale.Manifest, stale.Index, stale.Rows, stale.Text, crashed.Index, crashed.Text} {
		if _, err := s.Head(ctx, k); err == nil {
			t.Fatalf("%s kept", k)
		}
	}
}

// Segments (lake/vecindex): vacuum deletes, after the grace, the segments a
// newer settled segment supersedes (a merge of them) and the unusable ones,
// and never one that searches choose.
func TestVacuumKeepsTheSegmentsSearchesUse(t *testing.T) {
	ctx := context.Background()
	s := testenv.Local(t)
	l := openLake(t, s)
	ingest(t, l, gen.Memories(7, 40, 1, 1), 4)
	tb, _ := l.Table(schemas.TableMemories)
	snap, _ := tb.Refresh(ctx)
	files := snap.Files()
	if len(files) < 10 {
		t.Fatalf("%d files", len(files))
	}
	part, _ := lake.PartitionOf(files[0].PartitionValues)
	var all []*vecindex.Manifest
	putIndex := func(id string, fs []delta.Add) vecindex.Keys {
		k := vecindex.KeysFor(schemas.TableMemories, part, id)
		m := vecindex.Manifest{Version: vecindex.FormatVersion, Table: schemas.TableMemories, Tier: part.Tier, Dim: vecindex.Dim, RowKeys: true,
			Index: vecindex.ObjRef{Key: k.Index, Size: 3}, Rows: vecindex.ObjRef{Key: k.Rows, Size: 3},
			Text: vecindex.ObjRef{Key: k.Text, Size: 3}}
		for _, f := range fs {
			m.Files = append(m.Files, vecindex.FileRef{Path: f.Path, Size: f.Size, Vectors: 10})
			m.Vectors += 10
		}
		b, _ := json.Marshal(m)
		for key, body := range map[string][]byte{k.Index: []byte("idx"), k.Rows: []byte("row"), k.Text: []byte("fts"), k.Manifest: b} {
			if err := s.Put(ctx, key, bytes.NewReader(body), int64(len(body))); err != nil {
				t.Fatal(err)
			}
		}
		m.Key = k.Manifest
		all = append(all, &m)
		return k
	}
	a := putIndex("01A", files[0:2])
	b := putIndex("01B", files[2:4])
	merged := putIndex("01C", files[0:4]) // a and b merged
	c := putIndex("01D", files[4:6])      // not merged: still searched, however old
	// Newer than the merge and overlapping it, but unusable: two of its
	// three files are removed. Searches pass it over, so it supersedes
	// nothing; it goes once its removed files are past the grace.
	unusable := putIndex("01E", []delta.Add{files[3], files[8], files[9]})
	removeFiles(t, l, []string{files[8].Path, files[9].Path})
	live := map[string]int64{}
	for _, f := range files[:8] {
		live[f.Path] = f.Size
	}
	var want []string
	for _, m := range vecindex.Segments(all, live) {
		want = append(want, m.Key)
	}
	if strings.Join(want, " ") != merged.Manifest+" "+c.Manifest && strings.Join(want, " ") != c.Manifest+" "+merged.Manifest {
		t.Fatalf("searches choose %v", want)
	}

	// Within the grace: nothing goes (a reader may have listed before the
	// merge was written).
	sum, err := Run(ctx, l, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := sum.Tables[schemas.TableMemories].Deleted[KindIndex]; n != 0 {
		t.Fatalf("deleted %d index objects within the grace", n)
	}
	if _, err := Run(ctx, l, Options{Now: after(8 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []vecindex.Keys{merged, c} {
		for _, key := range []string{k.Manifest, k.Index, k.Rows, k.Text} {
			if _, err := s.Head(ctx, key); err != nil {
				t.Fatalf("a segment searches use lost %s: %v", key, err)
			}
		}
	}
	for _, k := range []vecindex.Keys{a, b, unusable} {
		for _, key := range []string{k.Manifest, k.Index, k.Rows, k.Text} { // the full-text segment goes with its graph
			if _, err := s.Head(ctx, key); err == nil {
				t.Fatalf("%s kept", key)
			}
		}
	}
	assertLiveIntact(t, s)
}

// The grace, precisely: planIndexes over index objects whose write times
// are set by the test. A segment merged into a newer one goes only once
// the newer one was written before the grace (a reader that listed before
// it still searches the older ones); an unusable segment goes only when it
// is unusable in every snapshot of the grace period.
func TestPlanIndexesSegmentsAndGrace(t *testing.T) {
	ctx := context.Background()
	s := testenv.Local(t)
	l := openLake(t, s)
	ingest(t, l, gen.Memories(7, 40, 1, 1), 4)
	tb, _ := l.Table(schemas.TableMemories)
	snap, _ := tb.Refresh(ctx)
	files := snap.Files()
	part, _ := lake.PartitionOf(files[0].PartitionValues)
	stems := map[string]string{} // manifest key -> name
	putIndex := func(id string, fs []delta.Add) {
		k := vecindex.KeysFor(schemas.TableMemories, part, id)
		m := vecindex.Manifest{Version: vecindex.FormatVersion, Table: schemas.TableMemories, Tier: part.Tier, Dim: vecindex.Dim, RowKeys: true,
			Index: vecindex.ObjRef{Key: k.Index, Size: 3}, Rows: vecindex.ObjRef{Key: k.Rows, Size: 3},
			Text: vecindex.ObjRef{Key: k.Text, Size: 3}}
		for _, f := range fs {
			m.Files = append(m.Files, vecindex.FileRef{Path: f.Path, Size: f.Size, Vectors: 10})
			m.Vectors += 10
		}
		b, _ := json.Marshal(m)
		for key, body := range map[string][]byte{k.Index: []byte("idx"), k.Rows: []byte("row"), k.Text: []byte("fts"), k.Manifest: b} {
			if err := s.Put(ctx, key, bytes.NewReader(body), int64(len(body))); err != nil {
				t.Fatal(err)
			}
		}
		stems[k.Manifest] = id
	}
	putIndex("01A", files[0:2])
	putIndex("01B", files[2:4])
	putIndex("01C", files[0:4]) // the merge of A and B
	putIndex("01D", files[4:6])
	putIndex("01E", []delta.Add{files[3], files[8], files[9]}) // newest; two of its three files removed below
	beforeRemoval := time.Now()
	removeFiles(t, l, []string{files[8].Path, files[9].Path})
	snap, _ = tb.Refresh(ctx)
	tombs := map[string]int64{}
	for _, r := range snap.Tombstones() {
		k, _ := tb.Log.DataKey(r.Path)
		tombs[k] = r.DeletionTimestamp
	}
	objs, err := s.List(ctx, vecindex.Prefix(schemas.TableMemories))
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{}.withDefaults()
	for _, c := range []struct {
		name          string
		removedBefore time.Time
		young         string // written within the grace
		want          string // manifests deleted
	}{
		// The merge written within the grace: A and B stay. E is unusable
		// now but not in the snapshots before its files' removal.
		{"merge within the grace", beforeRemoval.Add(-time.Hour), "01C", ""},
		{"merge settled", beforeRemoval.Add(-time.Hour), "", "01A,01B"},
		// E's files removed past the grace: it goes (it also covers a file
		// removed past the grace).
		{"removals past the grace", time.Now().Add(time.Hour), "", "01A,01B,01E"},
		// A young unusable segment supersedes nothing, and D, never merged,
		// stays however old.
		{"young unusable", time.Now().Add(time.Hour), "01E", "01A,01B,01E"},
	} {
		in := slices.Clone(objs)
		for i := range in {
			in[i].ModTime = c.removedBefore.Add(-time.Hour)
			stem := strings.TrimSuffix(in[i].Key, extOf(in[i].Key)) + ".json"
			if c.young != "" && stems[stem] == c.young {
				in[i].ModTime = c.removedBefore.Add(time.Minute)
			}
		}
		var got []string
		for _, cand := range planIndexes(ctx, s, in, snap, tombs, tb.Log, c.removedBefore, c.removedBefore, opts) {
			if strings.HasSuffix(cand.Key, ".json") {
				got = append(got, stems[cand.Key])
			}
		}
		slices.Sort(got)
		if strings.Join(got, ",") != c.want {
			t.Errorf("%s: deleted %v, want %s", c.name, got, c.want)
		}
	}
}

// Log cleanup keeps every version committed within the retention loadable:
// it deletes only what lies below the newest checkpoint written before the
// cutoff. With checkpoints at 5 and 10 and the cutoff just after commit 7,
// that is versions 0 to 4; deleting each entry older than the cutoff (as
// vacuum once did) would drop checkpoint 5 and commits 5 to 7, which
// versions 8 and 9 need.
func TestVacuumLogKeepsEveryRetainedVersion(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		ctx := context.Background()
		l := openLake(t, s)
		tb, _ := l.Table(schemas.TableMemories)
		tb.Log.CheckpointInterval = 5
		ingest(t, l, gen.Memories(6, 120, 1, 1), 10) // versions 1..12; checkpoints 5, 10
		objs, err := s.List(ctx, "memories/_delta_log/")
		if err != nil {
			t.Fatal(err)
		}
		commitTime := map[int64]time.Time{}
		for _, o := range objs {
			var v int64
			if _, err := fmt.Sscanf(strings.TrimPrefix(o.Key, "memories/_delta_log/"), "%020d.json", &v); err == nil {
				commitTime[v] = o.ModTime
			}
		}
		// The cutoff: commit 8's time. Versions whose commit is not older
		// are within the retention (an object store may keep whole
		// seconds, so that can include a few before 8).
		const retention = 24 * time.Hour
		cutoff := commitTime[8]
		sum, err := Run(ctx, l, Options{Tables: []string{schemas.TableMemories}, LogRetention: retention,
			Now: func() time.Time { return cutoff.Add(retention) }})
		if err != nil {
			t.Fatal(err)
		}
		if from := sum.Tables[schemas.TableMemories].LogRetainedFrom; from > 8 {
			t.Fatalf("log retained from %d, past version 8 which is within the retention", from)
		}
		for v := int64(0); v <= 12; v++ {
			if commitTime[v].Before(cutoff) {
				continue // older than the retention: may be gone
			}
			snap, err := delta.NewTable(s, schemas.TableMemories).SnapshotAt(ctx, v)
			if err != nil || snap.Version != v {
				t.Fatalf("version %d, committed within the retention, does not load after vacuum: %v", v, err)
			}
		}
		// On a store with fine modification times the cutoff falls between
		// the checkpoints, and exactly the versions below checkpoint 5 go.
		if commitTime[7].Before(cutoff) && commitTime[5].Before(commitTime[7]) {
			ms := sum.Tables[schemas.TableMemories]
			if ms.LogRetainedFrom != 5 || ms.Deleted[KindLog] != 5 || ms.Deleted[KindCheckpoint] != 0 {
				t.Fatalf("deleted %+v, retained from %d; want commits 0-4 deleted and checkpoint 5 kept", ms.Deleted, ms.LogRetainedFrom)
			}
		}
		assertLiveIntact(t, s)
	})
}
