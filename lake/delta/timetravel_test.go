package delta

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/akosha/akosha/lake/storage"
)

// TestVersionAtAndRetained: times resolve to the newest version committed
// at or before them, through log cleanup below a checkpoint, which turns the
// versions it took into ErrIncompleteLog for both SnapshotAt and VersionAt.
func TestVersionAtAndRetained(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	base := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	now := base
	tbl := NewTable(st, "memories")
	tbl.Logger = testLogger(t)
	tbl.now = func() time.Time { return now }
	tbl.CheckpointInterval = -1
	s, err := tbl.Create(ctx, testMeta(t))
	if err != nil {
		t.Fatal(err)
	}
	// Version v is committed at base + v minutes.
	for v := 1; v <= 9; v++ {
		now = base.Add(time.Duration(v) * time.Minute)
		s = mustCommit(t, tbl, s, addActions(testAdd(fmt.Sprint(v), "hot", day("2026-11-25"), int64(v)))).Snapshot
	}
	if err := tbl.Checkpoint(ctx, s); err != nil { // at 9
		t.Fatal(err)
	}
	cp5, err := tbl.SnapshotAt(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := tbl.Checkpoint(ctx, cp5); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   time.Time
		want int64
		err  error
	}{
		{base.Add(-time.Second), 0, ErrBeforeFirstVersion},
		{base, 0, nil},
		{base.Add(90 * time.Second), 1, nil},
		{base.Add(5 * time.Minute), 5, nil},
		{base.Add(5*time.Minute - time.Millisecond), 4, nil},
		{base.Add(time.Hour), 9, nil},
	} {
		got, err := tbl.VersionAt(ctx, tc.at, nil)
		if !errors.Is(err, tc.err) || (err == nil && got != tc.want) {
			t.Errorf("VersionAt(%s) = %d, %v; want %d, %v", tc.at, got, err, tc.want, tc.err)
		}
	}
	if lo, hi, err := tbl.Retained(ctx); err != nil || lo != 0 || hi != 9 {
		t.Fatalf("Retained = %d, %d, %v; want 0, 9", lo, hi, err)
	}

	// Cleanup as the protocol's metadata cleanup: everything below the
	// checkpoint at 5.
	for v := int64(0); v < 5; v++ {
		if err := st.Delete(ctx, tbl.commitKey(v)); err != nil {
			t.Fatal(err)
		}
	}
	if lo, hi, err := tbl.Retained(ctx); err != nil || lo != 5 || hi != 9 {
		t.Fatalf("Retained after cleanup = %d, %d, %v; want 5, 9", lo, hi, err)
	}
	if _, err := tbl.SnapshotAt(ctx, 4); !errors.Is(err, ErrIncompleteLog) {
		t.Fatalf("SnapshotAt(4) after cleanup: %v, want ErrIncompleteLog", err)
	}
	for v, want := range map[int64]error{3: ErrIncompleteLog, 4: ErrIncompleteLog, 5: nil, 9: nil} {
		if err := tbl.CheckRetained(ctx, v); !errors.Is(err, want) {
			t.Errorf("CheckRetained(%d) = %v, want %v", v, err, want)
		}
	}
	if _, err := tbl.SnapshotAt(ctx, 10); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("SnapshotAt(10): %v, want ErrNotExist", err)
	}
	if _, err := tbl.VersionAt(ctx, base.Add(4*time.Minute), nil); !errors.Is(err, ErrIncompleteLog) {
		t.Fatalf("VersionAt(before the oldest retained): %v, want ErrIncompleteLog", err)
	}
	memo := map[int64]time.Time{}
	reads := 0
	times := func(v int64, get func() (time.Time, error)) (time.Time, error) {
		if ts, ok := memo[v]; ok {
			return ts, nil
		}
		reads++
		ts, err := get()
		memo[v] = ts
		return ts, err
	}
	for range 2 {
		if v, err := tbl.VersionAt(ctx, base.Add(7*time.Minute+time.Second), times); err != nil || v != 7 {
			t.Fatalf("VersionAt(7m1s) = %d, %v; want 7", v, err)
		}
	}
	if reads > 4 {
		t.Fatalf("%d commit times read for 5 retained versions, twice: the memo is not used", reads)
	}
	for v := int64(5); v <= 9; v++ {
		snap, err := tbl.SnapshotAt(ctx, v)
		if err != nil {
			t.Fatalf("SnapshotAt(%d): %v", v, err)
		}
		if snap.NumFiles() != int(v) {
			t.Fatalf("version %d: %d files, want %d", v, snap.NumFiles(), v)
		}
	}
}

// TestCommitTimesFollowVersions: a writer that loses the race for a
// version commits after the winner with a time not before the winner's,
// however early its own clock read (it prepared before the winner
// committed), so VersionAt's binary search sees ordered times.
func TestCommitTimesFollowVersions(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	base := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	early, late := NewTable(st, "memories"), NewTable(st, "memories")
	early.Logger, late.Logger = testLogger(t), testLogger(t)
	early.now = func() time.Time { return base.Add(time.Minute) }
	late.now = func() time.Time { return base.Add(2 * time.Minute) }
	s0, err := early.Create(ctx, testMeta(t))
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, late, s0, addActions(testAdd("b", "hot", day("2026-11-25"), 1)))       // version 1
	r := mustCommit(t, early, s0, addActions(testAdd("a", "hot", day("2026-11-25"), 1))) // loses 1, lands at 2
	if r.Version != 2 {
		t.Fatalf("the loser landed at %d, want 2", r.Version)
	}
	t1, err1 := early.CommitTime(ctx, 1)
	t2, err2 := early.CommitTime(ctx, 2)
	if err1 != nil || err2 != nil || t2.Before(t1) {
		t.Fatalf("commit times %s, %s (%v %v): version 2 is before version 1", t1, t2, err1, err2)
	}
	if v, err := early.VersionAt(ctx, t2, nil); err != nil || v != 2 {
		t.Errorf("VersionAt(%s) = %d, %v; want 2", t2, v, err)
	}
}
