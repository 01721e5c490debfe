package delta

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestUpdate: the polling path. Nothing new costs one GET and no LIST and
// returns the same snapshot; new versions are applied incrementally and
// leave the old snapshot untouched.
func TestUpdate(t *testing.T) {
	ctx := context.Background()
	mem := newMemStore()
	writer, s := createTable(t, mem)
	for i := range 3 {
		s = mustCommit(t, writer, s, addActions(testAdd(fmt.Sprint("a", i), "hot", day("2026-11-25"), 1))).Snapshot
	}

	cs := &countingStore{Store: mem}
	reader := NewTable(cs, "memories")
	old, err := reader.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cs.reset()
	same, err := reader.Update(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	// Two small GETs: the next commit (absent) and _last_checkpoint.
	if lists, gets := cs.reset(); same != old || len(lists) != 0 || gets != 2 {
		t.Fatalf("idle Update: same=%v lists=%v gets=%d", same == old, lists, gets)
	}

	a0, _ := s.File(testAdd("a0", "hot", day("2026-11-25"), 1).Path)
	s = mustCommit(t, writer, s, append(addActions(testAdd("b", "hot", day("2026-11-25"), 1)),
		Action{Remove: ptr(a0.RemoveAt(1))}, Action{Txn: &Txn{AppID: "r", Version: 1}})).Snapshot
	s = mustCommit(t, writer, s, addActions(testAdd("c", "warm", nil, 1))).Snapshot

	cs.reset()
	upd, err := reader.Update(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	if lists, gets := cs.reset(); len(lists) != 0 || gets != 3 {
		t.Errorf("Update of 2 versions: lists=%v gets=%d, want none and 3", lists, gets)
	}
	assertSameState(t, "updated vs writer", upd, s)
	if tx, ok := upd.Txn("r"); !ok || tx.CommitVersion != 4 {
		t.Errorf("txn after update: %+v %v", tx, ok)
	}
	if old.Version != 3 || old.NumFiles() != 3 || old.NumTombstones() != 0 {
		t.Errorf("old snapshot changed: version %d, %d files, %d tombstones", old.Version, old.NumFiles(), old.NumTombstones())
	}
	if _, ok := old.Txn("r"); ok {
		t.Error("old snapshot sees a later txn")
	}
}

// TestListFromHint: listing from a checkpoint hint lists only the blocks of
// 1000 versions from the hint on, and crosses block boundaries.
func TestListFromHint(t *testing.T) {
	ctx := context.Background()
	mem := newMemStore()
	tbl := NewTable(mem, "t")
	for v := int64(990); v <= 2003; v++ {
		mem.objects[tbl.commitKey(v)] = []byte("{}")
	}
	mem.objects[tbl.checkpointKey(995)] = []byte("x")
	mem.objects[tbl.logDir+"_last_checkpoint"] = []byte(`{"version":995,"size":1}`)
	cs := &countingStore{Store: mem}
	tbl = NewTable(cs, "t")
	l, err := tbl.list(ctx, 995)
	if err != nil {
		t.Fatal(err)
	}
	if l.latest != 2003 || l.commits[994] || !l.commits[995] || !l.commits[1999] || l.checkpoints[995] == nil {
		t.Fatalf("listing: latest %d", l.latest)
	}
	lists, _ := cs.reset()
	want := []string{"t/_delta_log/00000000000000000", "t/_delta_log/00000000000000001", "t/_delta_log/00000000000000002"}
	if strings.Join(lists, ",") != strings.Join(want, ",") {
		t.Fatalf("lists %v, want %v", lists, want)
	}
}

func TestParseLogName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want logName
		ok   bool
	}{
		{"00000000000000000007.json", logName{version: 7, commit: true}, true},
		{"00000000000000000010.checkpoint.parquet", logName{version: 10, checkpoint: true}, true},
		{"00000000000000000010.checkpoint.0000000002.0000000003.parquet", logName{version: 10, checkpoint: true, part: 2, parts: 3}, true},
		{"00000000000000000010.checkpoint.0000000004.0000000003.parquet", logName{}, false},
		{"00000000000000000008.checkpoint.e5ac4dc4-be27-4106-8a55-609707487f83.json", logName{}, false}, // V2
		{"00000000000000000007.crc", logName{}, false},
		{"00000000000000000000.00000000000000000003.compacted.json", logName{}, false},
		{"_last_checkpoint", logName{}, false},
		{"7.json", logName{}, false},
	} {
		got, ok := parseLogName(tc.name)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseLogName(%q) = %+v %v", tc.name, got, ok)
		}
	}
}

// TestMergeSorted checks the overlay merge against a plain map replay.
func TestMergeSorted(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var base []*Add
	want := map[string]bool{}
	for round := range 200 {
		changes := map[string]*Add{}
		for range rng.IntN(20) {
			p := fmt.Sprintf("f%03d", rng.IntN(300))
			if rng.IntN(3) == 0 {
				changes[p] = nil
				delete(want, p)
			} else {
				changes[p] = &Add{Path: p}
				want[p] = true
			}
		}
		base = mergeSorted(base, changes, addPath)
		var got []string
		for _, a := range base {
			got = append(got, a.Path)
		}
		exp := slices.Sorted(maps.Keys(want))
		if !slices.Equal(got, exp) {
			t.Fatalf("round %d: got %v, want %v", round, got, exp)
		}
	}
}

// BenchmarkUpdate measures the once-a-second poll on a 100k-file table
// that gained one commit of 10 adds and 10 removes.
// A reader that fell behind the log retention: the commit after its
// version was deleted by log cleanup after a checkpoint. Update must load
// the newer state from the checkpoint, not report "nothing new" forever.
func TestUpdateAfterLogCleanup(t *testing.T) {
	ctx := context.Background()
	mem := newMemStore()
	writer, s := createTable(t, mem)
	s = mustCommit(t, writer, s, addActions(testAdd("first", "hot", day("2026-11-25"), 1))).Snapshot
	reader := NewTable(mem, "memories")
	old, err := reader.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		s = mustCommit(t, writer, s, addActions(testAdd(fmt.Sprint("later", i), "hot", day("2026-11-25"), 1))).Snapshot
	}
	if err := writer.Checkpoint(ctx, s); err != nil {
		t.Fatal(err)
	}
	// Cleanup: every commit before the checkpoint goes.
	for v := int64(0); v < s.Version; v++ {
		if err := mem.Delete(ctx, writer.commitKey(v)); err != nil {
			t.Fatal(err)
		}
	}
	s = mustCommit(t, writer, s, addActions(testAdd("after", "hot", day("2026-11-25"), 1))).Snapshot

	upd, err := reader.Update(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	if upd.Version != s.Version || upd.NumFiles() != 7 {
		t.Fatalf("update after cleanup: version %d with %d files, want %d with 7", upd.Version, upd.NumFiles(), s.Version)
	}
	assertSameState(t, "after cleanup", upd, s)
}

func BenchmarkUpdate(b *testing.B) {
	ctx := context.Background()
	mem := newMemStore()
	tbl := NewTable(mem, "t")
	meta := testMeta(b)
	meta.ID = "bench"
	var sb strings.Builder
	sb.WriteString(`{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}` + "\n")
	mb, _ := json.Marshal(Action{MetaData: ptr(normalizeMetadata(meta))})
	sb.Write(mb)
	sb.WriteByte('\n')
	for i := range 100_000 {
		ab, _ := json.Marshal(Action{Add: ptr(testAdd(fmt.Sprintf("f%06d", i), "hot", day("2026-11-25"), 1))})
		sb.Write(ab)
		sb.WriteByte('\n')
	}
	mem.objects[tbl.commitKey(0)] = []byte(sb.String())
	s, err := tbl.Snapshot(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var acts []Action
	for i := range 10 {
		old, _ := s.File(testAdd(fmt.Sprintf("f%06d", i*7919), "hot", day("2026-11-25"), 1).Path)
		acts = append(acts, Action{Remove: ptr(old.RemoveAt(1))})
		acts = append(acts, addActions(testAdd(fmt.Sprintf("new%02d", i), "hot", day("2026-11-25"), 1))...)
	}
	data, _ := encodeCommit(acts)
	mem.objects[tbl.commitKey(1)] = data
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		ns, err := tbl.Update(ctx, s)
		if err != nil || ns.Version != 1 || ns.NumFiles() != 100_000 {
			b.Fatal(ns, err)
		}
	}
}
