package delta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/akosha/akosha/lake/storage"
)

// ErrBeforeFirstVersion means a time precedes the table's first commit
// (version 0, still in the log): the table did not exist yet.
var ErrBeforeFirstVersion = errors.New("delta: no version committed at or before that time")

// Retained is the range of versions the log can still rebuild: oldest is
// the lowest version with a complete checkpoint (or version 0) from which
// every commit up to latest is present. Log cleanup (vacuum) raises oldest;
// SnapshotAt fails with ErrIncompleteLog below it.
func (t *Table) Retained(ctx context.Context) (oldest, latest int64, err error) {
	l, err := t.list(ctx, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("delta table %q: %w", t.prefix, err)
	}
	oldest, latest = l.retained()
	if latest < 0 {
		return 0, 0, fmt.Errorf("delta table %q: no Delta log at %s: %w", t.prefix, t.logDir, storage.ErrNotExist)
	}
	return oldest, latest, nil
}

// retained walks down from the latest version while commits are present:
// the lowest point reached that is version 0 or a complete checkpoint is
// the oldest version that loads.
func (l *listing) retained() (oldest, latest int64) {
	if l.latest < 0 {
		return -1, -1
	}
	oldest = l.latest // the latest always loads (its commit, or its checkpoint)
	for v := l.latest; v >= 0; v-- {
		if l.checkpoints[v] != nil || (v == 0 && l.commits[0]) {
			oldest = v
		}
		if !l.commits[v] {
			break // versions below v need commit v
		}
	}
	return oldest, l.latest
}

// CommitTime is when version was committed: its commitInfo's timestamp
// (milliseconds, written by every writer this package knows), or, for a
// commit without one, the modification time of its log object, which is
// what the Delta protocol falls back to.
func (t *Table) CommitTime(ctx context.Context, version int64) (time.Time, error) {
	acts, _, err := t.readCommit(ctx, version, true)
	if err != nil {
		return time.Time{}, fmt.Errorf("delta table %q: %w", t.prefix, err)
	}
	for _, a := range acts {
		if a.CommitInfo == nil {
			continue
		}
		switch ts := a.CommitInfo["timestamp"].(type) {
		case json.Number:
			if ms, err := ts.Int64(); err == nil && ms > 0 {
				return time.UnixMilli(ms).UTC(), nil
			}
		case float64:
			if ts > 0 {
				return time.UnixMilli(int64(ts)).UTC(), nil
			}
		}
	}
	info, err := t.store.Head(ctx, t.commitKey(version))
	if err != nil {
		return time.Time{}, fmt.Errorf("delta table %q: commit %d: %w", t.prefix, version, err)
	}
	return info.ModTime.UTC(), nil
}

// VersionAt resolves a time to the newest version committed at or before
// it, by binary search over the commit times of the retained versions
// (CommitTime; times is an optional memo of them, since a commit's time
// never changes). A time before the oldest retained version fails with
// ErrIncompleteLog when older versions were cleaned up, or with
// ErrBeforeFirstVersion when the log still starts at version 0.
//
// Commit times come from the writers' clocks and are assumed to grow with
// the version; a clock that ran backwards makes the answer one of the
// versions around the step, never one outside the retained range.
func (t *Table) VersionAt(ctx context.Context, at time.Time, times func(version int64, get func() (time.Time, error)) (time.Time, error)) (int64, error) {
	oldest, latest, err := t.Retained(ctx)
	if err != nil {
		return 0, err
	}
	commitTime := func(v int64) (time.Time, error) {
		get := func() (time.Time, error) { return t.CommitTime(ctx, v) }
		if times != nil {
			return times(v, get)
		}
		return get()
	}
	first, err := commitTime(oldest)
	if errors.Is(err, storage.ErrNotExist) && oldest > 0 {
		// The oldest checkpoint's own commit was cleaned up by another
		// writer: the version still loads, but its time is unknown, so
		// only later versions are candidates.
		oldest++
		if oldest > latest {
			return latest, nil
		}
		first, err = commitTime(oldest)
	}
	if err != nil {
		return 0, err
	}
	if at.Before(first) {
		if oldest == 0 {
			return 0, fmt.Errorf("delta table %q: %s is before version 0 (committed %s): %w",
				t.prefix, at.Format(time.RFC3339Nano), first.Format(time.RFC3339Nano), ErrBeforeFirstVersion)
		}
		return 0, fmt.Errorf("delta table %q: %s is before version %d (committed %s), the oldest the log retains: %w",
			t.prefix, at.Format(time.RFC3339Nano), oldest, first.Format(time.RFC3339Nano), ErrIncompleteLog)
	}
	// Invariant: commitTime(lo) <= at; the answer is in [lo, hi].
	lo, hi := oldest, latest
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		ts, err := commitTime(mid)
		if err != nil {
			return 0, err
		}
		if ts.After(at) {
			hi = mid - 1
		} else {
			lo = mid
		}
	}
	return lo, nil
}

// CheckRetained reports, with one or two HEADs, whether version v (at most
// the latest) can still be rebuilt: log cleanup deletes a prefix of the log
// below a checkpoint, so a version whose commit is present is at or above
// the oldest one kept, and so is one that has a checkpoint of its own. A
// reader that loaded v before the cleanup calls this to stop answering for
// it. Versions it no longer retains fail with ErrIncompleteLog.
func (t *Table) CheckRetained(ctx context.Context, v int64) error {
	_, err := t.store.Head(ctx, t.commitKey(v))
	if err == nil {
		return nil
	}
	if !errors.Is(err, storage.ErrNotExist) {
		return fmt.Errorf("delta table %q: commit %d: %w", t.prefix, v, err)
	}
	objs, err := t.store.List(ctx, fmt.Sprintf("%s%020d.checkpoint", t.logDir, v))
	if err != nil {
		return fmt.Errorf("delta table %q: list checkpoints of %d: %w", t.prefix, v, err)
	}
	if len(objs) > 0 {
		return nil
	}
	return fmt.Errorf("delta table %q: version %d: its commit was cleaned from the log: %w", t.prefix, v, ErrIncompleteLog)
}
