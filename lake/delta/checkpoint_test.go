package delta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/lake/storage"
)

// TestCheckpointEvery100 commits 100 versions (appends, removes, txns) and
// checks the automatic checkpoint: it is written at 100, _last_checkpoint
// names it, a reader starting from it sees exactly what the JSON replay
// sees, and it alone is enough once the older commits are gone.
func TestCheckpointEvery100(t *testing.T) {
	ctx := context.Background()
	tbl, s := newLocalTable(t)
	var live []Add
	for v := int64(1); v <= 100; v++ {
		d := day(fmt.Sprintf("2026-11-%02d", 1+v%28))
		if v%13 == 0 {
			d = nil
		}
		a := testAdd(fmt.Sprintf("f%03d", v), []string{"hot", "warm", "cold"}[v%3], d, v)
		acts := addActions(a)
		if v%10 == 0 { // compaction-like: remove the oldest live file
			acts = append(acts, Action{Remove: ptr(live[0].RemoveAt(time.Now().UnixMilli()))})
			live = live[1:]
		}
		if v%7 == 0 {
			acts = append(acts, Action{Txn: &Txn{AppID: fmt.Sprintf("req-%d", v), Version: v, LastUpdated: v}})
		}
		live = append(live, a)
		s = mustCommit(t, tbl, s, acts).Snapshot
		if v == 99 {
			if _, err := tbl.store.Head(ctx, tbl.checkpointKey(99)); !errors.Is(err, storage.ErrNotExist) {
				t.Fatalf("unexpected checkpoint before 100: %v", err)
			}
		}
	}
	if _, err := tbl.store.Head(ctx, tbl.checkpointKey(100)); err != nil {
		t.Fatalf("no checkpoint at 100: %v", err)
	}
	lc := readLast(t, tbl)
	if lc == nil || lc.Version != 100 || lc.Size != int64(2+len(live)+100/7+100/10) || lc.NumOfAddFiles != int64(len(live)) {
		t.Fatalf("_last_checkpoint = %+v", lc)
	}

	fromJSON, err := tbl.replay(ctx, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	fromCheckpoint, err := tbl.replay(ctx, &checkpointRef{version: 100, keys: []string{tbl.checkpointKey(100)}}, 100)
	if err != nil {
		t.Fatal(err)
	}
	assertSameState(t, "checkpoint vs JSON", fromCheckpoint, fromJSON)
	assertSameState(t, "JSON vs commit result", fromJSON, s)
	if fromCheckpoint.NumTombstones() != 10 || fromCheckpoint.NumFiles() != 90 || len(fromCheckpoint.Txns()) != 14 {
		t.Fatalf("checkpoint state: %d files, %d tombstones, %d txns", fromCheckpoint.NumFiles(), fromCheckpoint.NumTombstones(), len(fromCheckpoint.Txns()))
	}

	// Clean up the log as a vacuum would: the checkpoint must suffice.
	for v := int64(0); v < 100; v++ {
		if err := tbl.store.Delete(ctx, tbl.commitKey(v)); err != nil {
			t.Fatal(err)
		}
	}
	latest, err := NewTable(tbl.store, "memories").Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	assertSameState(t, "after log cleanup", latest, fromJSON)
	if _, err := tbl.SnapshotAt(ctx, 99); !errors.Is(err, ErrIncompleteLog) {
		t.Fatalf("version 99 after cleanup: %v, want ErrIncompleteLog", err)
	}
	if _, err := tbl.Create(ctx, testMeta(t)); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("Create over a cleaned-up log: %v, want ErrExists", err)
	}
}

// TestCheckpointSchemaMatchesSpark compares our checkpoint's Parquet schema
// with the one Spark 3.5 / Delta 3.3 wrote for err_logs_table_a: every
// column we write must exist there, with the same physical and logical type
// and nesting, so that readers built for Spark checkpoints read ours.
func TestCheckpointSchemaMatchesSpark(t *testing.T) {
	spark, err := os.ReadFile(filepath.Join(testdataDir(t), "err_logs_table_a", "_delta_log", "00000000000000000010.checkpoint.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	tbl, s := newLocalTable(t)
	s = mustCommit(t, tbl, s, addActions(testAdd("a", "hot", nil, 1))).Snapshot
	if err := tbl.Checkpoint(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	ours, err := storage.ReadAll(context.Background(), tbl.store, tbl.checkpointKey(1))
	if err != nil {
		t.Fatal(err)
	}
	want := leafTypes(t, spark)
	got := leafTypes(t, ours)
	for path, typ := range got {
		if want[path] != typ {
			t.Errorf("column %s: ours %q, Spark's %q", path, typ, want[path])
		}
	}
	for _, p := range []string{"add.path", "add.partitionValues.key_value.value", "add.stats", "remove.deletionTimestamp",
		"metaData.partitionColumns.list.element", "protocol.minWriterVersion", "txn.appId"} {
		if _, ok := got[p]; !ok {
			t.Errorf("our checkpoint lacks %s", p)
		}
	}
}

func leafTypes(t *testing.T, data []byte) map[string]string {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var walk func(c *parquet.Column)
	walk = func(c *parquet.Column) {
		if c.Leaf() {
			out[strings.Join(c.Path(), ".")] = fmt.Sprintf("%v %v", c.Type().Kind(), c.Type().LogicalType())
			return
		}
		for _, ch := range c.Columns() {
			walk(ch)
		}
	}
	walk(f.Root())
	return out
}

// TestCheckpointWriterCheck is EXPECTED.md's writer check on `checkpoints`:
// checkpoints at 5 and 10 create the files, move _last_checkpoint to 5 then
// 10, and the table still loads with 12 files.
func TestCheckpointWriterCheck(t *testing.T) {
	ctx := context.Background()
	tbl := copyTable(t, "checkpoints")
	for _, v := range []int64{5, 10} {
		s, err := tbl.SnapshotAt(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		if err := tbl.Checkpoint(ctx, s); err != nil {
			t.Fatal(err)
		}
		if _, err := tbl.store.Head(ctx, fmt.Sprintf("_delta_log/%020d.checkpoint.parquet", v)); err != nil {
			t.Fatal(err)
		}
		if lc := readLast(t, tbl); lc == nil || lc.Version != v {
			t.Fatalf("_last_checkpoint after %d: %+v", v, lc)
		}
	}
	s, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != 12 || s.NumFiles() != 12 {
		t.Fatalf("after checkpoints: version %d, %d files", s.Version, s.NumFiles())
	}
	fromJSON, err := tbl.replay(ctx, nil, 12)
	if err != nil {
		t.Fatal(err)
	}
	assertSameState(t, "checkpoint 10 + JSON vs JSON", s, fromJSON)
	// An older hint must not stop the reader at the older checkpoint.
	if err := tbl.writeLastCheckpointForce(ctx, lastCheckpoint{Version: 5}); err != nil {
		t.Fatal(err)
	}
	s2, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	assertSameState(t, "stale hint", s2, fromJSON)

	// python-0.25.5-checkpoint: reading a delta-rs checkpoint at version 0,
	// then writing a new one must work (delta-rs test_older_checkpoint_reads).
	py := copyTable(t, "python-0.25.5-checkpoint")
	ps, err := py.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := py.Checkpoint(ctx, ps); err != nil {
		t.Fatal(err)
	}
	ps2, err := NewTable(py.store, "").Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	assertSameState(t, "python table after our checkpoint", ps2, ps)
}

// writeLastCheckpointForce overwrites the hint even with an older version.
func (t *Table) writeLastCheckpointForce(ctx context.Context, lc lastCheckpoint) error {
	b := fmt.Appendf(nil, `{"version":%d,"size":1}`, lc.Version)
	return t.store.Put(ctx, t.lastCheckpointKey(), bytes.NewReader(b), int64(len(b)))
}

// TestMultiPartCheckpoint writes a multi-part checkpoint (no shared fixture
// has one) and reads it back; an incomplete part set is ignored.
func TestMultiPartCheckpoint(t *testing.T) {
	ctx := context.Background()
	tbl, s := newLocalTable(t)
	for i := range 9 {
		s = mustCommit(t, tbl, s, addActions(testAdd(fmt.Sprintf("f%d", i), "hot", day("2026-11-25"), int64(i)))).Snapshot
	}
	tbl.CheckpointPartSize = 3 // 2 + 9 actions → 4 parts
	if err := tbl.Checkpoint(ctx, s); err != nil {
		t.Fatal(err)
	}
	lc := readLast(t, tbl)
	if lc == nil || lc.Parts == nil || *lc.Parts != 4 || lc.Size != 11 {
		t.Fatalf("_last_checkpoint = %+v", lc)
	}
	l, err := tbl.list(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	cp := l.checkpoints[9]
	if cp == nil || len(cp.keys) != 4 || !strings.HasSuffix(cp.keys[3], ".checkpoint.0000000004.0000000004.parquet") {
		t.Fatalf("multi-part checkpoint not listed: %+v", cp)
	}
	fromCheckpoint, err := tbl.replay(ctx, cp, 9)
	if err != nil {
		t.Fatal(err)
	}
	assertSameState(t, "multi-part checkpoint", fromCheckpoint, s)

	// Remove a part: the set is incomplete and the reader falls back.
	if err := tbl.store.Delete(ctx, cp.keys[2]); err != nil {
		t.Fatal(err)
	}
	l, _ = tbl.list(ctx, 0)
	if l.checkpoints[9] != nil {
		t.Fatal("incomplete part set listed as a checkpoint")
	}
	latest, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	assertSameState(t, "after losing a part", latest, s)
}

// TestCheckpointFailureDoesNotFailCommit: checkpoints are an optimization.
func TestCheckpointFailureDoesNotFailCommit(t *testing.T) {
	st := newMemStore()
	tbl, s := createTable(t, st)
	tbl.CheckpointInterval = 2
	st.onPut = func(key string) error {
		if strings.Contains(key, ".checkpoint.") {
			return errors.New("disk full")
		}
		return nil
	}
	for range 2 {
		s = mustCommit(t, tbl, s, addActions(testAdd(fmt.Sprint(s.Version), "hot", day("2026-11-25"), 1))).Snapshot
	}
	if s.Version != 2 {
		t.Fatalf("version %d", s.Version)
	}
	if _, err := st.Head(context.Background(), tbl.checkpointKey(2)); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("checkpoint written despite the failure: %v", err)
	}
	st.onPut = nil
	s = mustCommit(t, tbl, s, addActions(testAdd("x", "hot", day("2026-11-25"), 1))).Snapshot
	s = mustCommit(t, tbl, s, addActions(testAdd("y", "hot", day("2026-11-25"), 1))).Snapshot
	if lc := readLast(t, tbl); lc == nil || lc.Version != 4 {
		t.Fatalf("checkpoint at 4 missing: %+v", lc)
	}
}

// TestBrokenCheckpoints: a corrupt checkpoint or hint never breaks a read
// that the rest of the log can serve.
func TestBrokenCheckpoints(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	tbl, s := createTable(t, st)
	tbl.CheckpointInterval = 5
	for range 12 {
		s = mustCommit(t, tbl, s, addActions(testAdd(fmt.Sprint(s.Version), "hot", day("2026-11-25"), 1))).Snapshot
	}
	for _, tc := range []struct {
		name string
		key  string
		data string
	}{
		{"garbage _last_checkpoint", tbl.lastCheckpointKey(), "{not json"},
		{"hint names a missing checkpoint", tbl.lastCheckpointKey(), `{"version":11,"size":3}`},
		{"corrupt newest checkpoint", tbl.checkpointKey(10), "PAR1 this is not parquet PAR1"},
		{"truncated checkpoint 5 as well", tbl.checkpointKey(5), "PAR1"},
	} {
		st.objects[tc.key] = []byte(tc.data)
		got, err := tbl.Snapshot(ctx)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		assertSameState(t, tc.name, got, s)
	}
}

// TestCheckpointDropsExpiredTombstones: tombstones older than
// delta.deletedFileRetentionDuration are not carried into checkpoints.
func TestCheckpointDropsExpiredTombstones(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	tbl, s := createTable(t, st)
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	tbl.now = func() time.Time { return now }
	a, b := testAdd("old", "hot", nil, 1), testAdd("new", "hot", nil, 1)
	s = mustCommit(t, tbl, s, addActions(a, b)).Snapshot
	s = mustCommit(t, tbl, s, []Action{
		{Remove: ptr(a.RemoveAt(now.Add(-8 * 24 * time.Hour).UnixMilli()))},
		{Remove: ptr(b.RemoveAt(now.Add(-6 * 24 * time.Hour).UnixMilli()))},
	}).Snapshot
	if err := tbl.Checkpoint(ctx, s); err != nil {
		t.Fatal(err)
	}
	got, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tombs := got.Tombstones(); len(tombs) != 1 || tombs[0].Path != b.Path || !tombs[0].ExtendedFileMetadata || tombs[0].Size != b.Size {
		t.Fatalf("tombstones after checkpoint: %+v", tombs)
	}
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"interval 1 week", 7 * 24 * time.Hour, true},
		{"interval 30 days", 30 * 24 * time.Hour, true},
		{"168 hours", 168 * time.Hour, true},
		{"interval 1 fortnight", 0, false},
		{"soon", 0, false},
	} {
		if d, ok := parseInterval(tc.in); d != tc.want || ok != tc.ok {
			t.Errorf("parseInterval(%q) = %v %v", tc.in, d, ok)
		}
	}
}

// FuzzDecodeCheckpoint: malformed Parquet never panics the reader.
func FuzzDecodeCheckpoint(f *testing.F) {
	rows := (&Table{now: time.Now}).checkpointRows(&Snapshot{
		Protocol: Protocol{MinReaderVersion: 1, MinWriterVersion: 2},
		Metadata: Metadata{ID: "x", SchemaString: `{"type":"struct","fields":[]}`},
		files:    []*Add{{Path: "a", Size: 1, PartitionValues: map[string]*string{}}},
	})
	if data, err := encodeCheckpoint(rows); err == nil {
		f.Add(data)
		f.Add(data[:len(data)/2])
	}
	f.Add([]byte("PAR1PAR1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = decodeCheckpoint(data)
	})
}
