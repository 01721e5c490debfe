package delta

import (
	"context"
	"errors"
	"fmt"

	"github.com/akosha/akosha/lake/storage"
)

// Snapshot loads the latest version of the table: the newest complete
// checkpoint (found from the _last_checkpoint hint, or by listing when the
// hint is missing or stale) plus the JSON commits after it. A table with no
// log returns an error wrapping storage.ErrNotExist.
func (t *Table) Snapshot(ctx context.Context) (*Snapshot, error) {
	s, err := t.load(ctx, -1)
	if err != nil {
		return nil, fmt.Errorf("delta table %q: %w", t.prefix, err)
	}
	return s, nil
}

// SnapshotAt loads the table as of version (time travel). Versions that the
// log can no longer rebuild (commits deleted and no checkpoint at or below
// version) fail with ErrIncompleteLog; versions after the latest wrap
// storage.ErrNotExist.
func (t *Table) SnapshotAt(ctx context.Context, version int64) (*Snapshot, error) {
	if version < 0 {
		return nil, fmt.Errorf("delta table %q: negative version %d", t.prefix, version)
	}
	s, err := t.load(ctx, version)
	if err != nil {
		return nil, fmt.Errorf("delta table %q: version %d: %w", t.prefix, version, err)
	}
	return s, nil
}

// load builds the snapshot at target (-1: latest).
func (t *Table) load(ctx context.Context, target int64) (*Snapshot, error) {
	hint, err := t.readLastCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	if hint != nil && (target < 0 || hint.Version <= target) {
		// Listing from the hint finds its checkpoint and any newer one (the
		// hint may lag: a writer can die between checkpoint and hint).
		l, err := t.list(ctx, hint.Version)
		if err != nil {
			return nil, err
		}
		if len(l.checkpointsBelow(maxVersion(target, l.latest))) > 0 {
			s, err := t.loadFrom(ctx, l, target)
			if err == nil || !retryableWithFullListing(err) {
				return s, err
			}
			t.logger().Warn("delta: checkpoint named by _last_checkpoint unusable; listing the whole log",
				"table", t.prefix, "err", err)
		}
	}
	l, err := t.list(ctx, 0)
	if err != nil {
		return nil, err
	}
	return t.loadFrom(ctx, l, target)
}

func maxVersion(target, latest int64) int64 {
	if target < 0 {
		return latest
	}
	return target
}

// retryableWithFullListing reports whether an error from the hinted listing
// may go away with a full one (an unreadable checkpoint may have an older,
// readable one below the hint). Protocol refusals, gaps and cancellations
// cannot.
func retryableWithFullListing(err error) bool {
	return !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrIncompleteLog) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// loadFrom picks the starting point for target in a listing and replays.
func (t *Table) loadFrom(ctx context.Context, l *listing, target int64) (*Snapshot, error) {
	if l.latest < 0 {
		return nil, fmt.Errorf("no Delta log at %s: %w", t.logDir, storage.ErrNotExist)
	}
	if target < 0 {
		target = l.latest
	}
	if target > l.latest {
		return nil, fmt.Errorf("version %d does not exist (latest is %d): %w", target, l.latest, storage.ErrNotExist)
	}
	var lastErr error
	for _, cp := range l.checkpointsBelow(target) {
		if gap := l.missingCommit(cp.version+1, target); gap >= 0 {
			// Older checkpoints need this commit too.
			return nil, fmt.Errorf("%w: commit %d is missing and no checkpoint at or after it covers version %d",
				ErrIncompleteLog, gap, target)
		}
		s, err := t.replay(ctx, cp, target)
		if err == nil || !retryableWithFullListing(err) {
			return s, err
		}
		// A torn or corrupt checkpoint: an older one (or the JSON log)
		// still describes the same state.
		t.logger().Warn("delta: skipping unreadable checkpoint", "table", t.prefix, "version", cp.version, "err", err)
		lastErr = err
	}
	if gap := l.missingCommit(0, target); gap >= 0 {
		if lastErr != nil {
			return nil, lastErr
		}
		return nil, fmt.Errorf("%w: commit %d is missing and no checkpoint at or after it covers version %d",
			ErrIncompleteLog, gap, target)
	}
	return t.replay(ctx, nil, target)
}

// replay reads the checkpoint cp (nil: start from version 0) and the JSON
// commits after it up to target.
func (t *Table) replay(ctx context.Context, cp *checkpointRef, target int64) (*Snapshot, error) {
	b := newBuilder(nil)
	from := int64(0)
	if cp != nil {
		if err := t.readCheckpoint(ctx, cp, func(a *Action) { b.applyOne(cp.version, a, true) }); err != nil {
			return nil, err
		}
		b.version = cp.version
		from = cp.version + 1
	}
	commits, err := t.readCommits(ctx, from, target)
	if err != nil {
		return nil, err
	}
	for i, acts := range commits {
		b.apply(from+int64(i), acts, false)
	}
	return b.finish()
}

// Update returns the snapshot for the newest version, starting from s: it
// reads only the commits after s.Version, one GET each, and no listing, so
// polling it every second is cheap. When nothing is new it returns s itself;
// otherwise a new Snapshot (s stays valid). A snapshot far behind the log is
// reloaded from the newest checkpoint instead.
//
// A reader that fell behind by more than the log retention finds its next
// commit pruned: the commit is missing not because nothing was written but
// because a checkpoint replaced it. Update then loads the latest snapshot
// from that checkpoint (see updateIdle).
func (t *Table) Update(ctx context.Context, s *Snapshot) (*Snapshot, error) {
	if s == nil {
		return t.Snapshot(ctx)
	}
	b := newBuilder(s)
	for n := 0; ; n++ {
		v := s.Version + 1 + int64(n)
		if n == maxIncrementalUpdate {
			return t.Snapshot(ctx)
		}
		acts, _, err := t.readCommit(ctx, v, false)
		if errors.Is(err, storage.ErrNotExist) {
			if n == 0 {
				return t.updateIdle(ctx, s)
			}
			// A prefix of the log: a valid, older snapshot. Were v
			// pruned meanwhile, the next Update finds that out.
			break
		}
		if err != nil {
			return nil, fmt.Errorf("delta table %q: update: %w", t.prefix, err)
		}
		b.apply(v, acts, false)
	}
	ns, err := b.finish()
	if err != nil {
		return nil, fmt.Errorf("delta table %q: update: %w", t.prefix, err)
	}
	return ns, nil
}

// updateIdle decides what a missing next commit means. Log cleanup only
// deletes commits older than a checkpoint, so the commit after s is
// missing because it was pruned exactly when a checkpoint at or past it
// exists; _last_checkpoint names the newest one (one more small GET per
// idle poll). Then the whole snapshot is loaded again; otherwise nothing
// was committed since s. (A hint lagging its checkpoint, after a writer died
// between the two, delays the reload until the next checkpoint's hint.)
func (t *Table) updateIdle(ctx context.Context, s *Snapshot) (*Snapshot, error) {
	hint, err := t.readLastCheckpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("delta table %q: update: %w", t.prefix, err)
	}
	if hint == nil || hint.Version <= s.Version {
		return s, nil
	}
	t.logger().Info("delta: the next commit was pruned by log cleanup; reloading from the checkpoint",
		"table", t.prefix, "have", s.Version, "checkpoint", hint.Version)
	return t.Snapshot(ctx)
}
