// Package vacuum is the vacuum job: it deletes what the lake no longer needs.
//
//   - Removed data files (the snapshot's tombstones) whose deletionTimestamp
//     is older than Grace. Grace (default 7 days) must be longer than any
//     query, cache or lagging reader can hold an old snapshot.
//   - Orphans: data files under the table that the log neither names nor
//     has a tombstone for (written by a writer that crashed before its
//     commit, or whose tombstone a checkpoint dropped after the table's
//     tombstone retention), whose object is older than OrphanGrace (default:
//     Grace). OrphanGrace must be longer than any writer takes from staging a
//     file to committing it.
//   - Log entries, as the Delta protocol's metadata cleanup says: the
//     commits and checkpoints below the newest checkpoint written before
//     LogRetention (default 30 days) ago. Every version committed within
//     the retention still loads (from that checkpoint and the commits after
//     it), and so does the latest; time travel to older versions is given
//     up.
//   - Indexes under <table>/_indexes/ (lake/vecindex: a manifest and its
//     .hnsw and .rows objects) one of whose covered files was removed longer
//     ago than Grace: no reader can still be using such an index, since no
//     reader still holds a snapshot in which all its files are live; and
//     index segments no reader within Grace searches (superseded by a newer
//     segment, or unusable; see planIndexes). Index objects without a
//     manifest (a crashed build) go after OrphanGrace.
//
// A live file is never deleted: every candidate is checked against a
// snapshot read after the store was listed, and again against a fresh one
// just before the deletes.
package vacuum

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
)

// Defaults.
const (
	DefaultGrace        = 7 * 24 * time.Hour
	DefaultLogRetention = 30 * 24 * time.Hour
)

// Options configure one run.
type Options struct {
	Tables       []string      // empty: all
	Grace        time.Duration // removed files: default DefaultGrace
	OrphanGrace  time.Duration // unreferenced files: default Grace
	LogRetention time.Duration // log entries: default DefaultLogRetention
	DryRun       bool
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// IndexCovers overrides how index objects are read: it returns the data
	// paths (relative to the table root, as in the log) an index object
	// covers; ok=false means "not an index object, leave it". Nil: the
	// lake/vecindex layout (manifest .json naming its .hnsw and .rows).
	IndexCovers func(ctx context.Context, store storage.Store, key string) (paths []string, ok bool, err error)
	// Progress, when set, is called with each table's plan and each delete.
	Progress func(Event)
	Logger   *slog.Logger
	// Concurrency of deletes (default 8).
	Concurrency int
}

func (o Options) withDefaults() Options {
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.OrphanGrace <= 0 {
		o.OrphanGrace = o.Grace
	}
	if o.LogRetention <= 0 {
		o.LogRetention = DefaultLogRetention
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	return o
}

// Kind says why an object is deleted.
type Kind string

const (
	KindRemoved    Kind = "removed"    // tombstoned data file past the grace
	KindOrphan     Kind = "orphan"     // unreferenced data file past the orphan grace
	KindLog        Kind = "log"        // JSON commit below the newest checkpoint
	KindCheckpoint Kind = "checkpoint" // older checkpoint
	KindIndex      Kind = "index"      // index over files no longer all live
)

// Candidate is one object to delete.
type Candidate struct {
	Key  string
	Kind Kind
	Size int64
}

// Phase of an Event.
type Phase string

const (
	PhasePlanned Phase = "planned" // Candidates of a table
	PhaseDeleted Phase = "deleted" // one delete done (Err set if it failed)
)

// Event is one progress report.
type Event struct {
	Phase      Phase
	Table      string
	Candidates []Candidate // PhasePlanned
	Candidate  Candidate   // PhaseDeleted
	Err        error
}

// TableSummary counts one table's deletes (planned ones on a dry run).
type TableSummary struct {
	Version         int64 // snapshot checked against
	LiveFiles       int
	Tombstones      int          // tombstones in the snapshot
	WithinGrace     int          // tombstoned files kept because they are recent
	Deleted         map[Kind]int // by kind
	Bytes           int64        // bytes deleted
	Failed          int          // deletes that failed
	Candidates      []Candidate  `json:"-"`
	LogRetainedFrom int64        // oldest version the log keeps (-1: unknown)
}

// Summary is the run's result.
type Summary struct {
	Tables map[string]*TableSummary
	// Uploads is the import staging deleted (uploads.go); only a run over
	// every table cleans it.
	Uploads UploadSummary
	DryRun  bool
	Elapsed time.Duration
}

// Total counts deletes of every kind and table.
func (s *Summary) Total() (n int, bytes int64, failed int) {
	for _, t := range s.Tables {
		for _, c := range t.Deleted {
			n += c
		}
		bytes += t.Bytes
		failed += t.Failed
	}
	n, bytes, failed = n+s.Uploads.Deleted, bytes+s.Uploads.Bytes, failed+s.Uploads.Failed
	return
}

// ErrDeletesFailed is returned (wrapped) when some deletes failed; the next
// run retries them.
var ErrDeletesFailed = errors.New("some deletes failed")

// Run vacuums the lake's tables.
func Run(ctx context.Context, l *lake.Lake, opts Options) (*Summary, error) {
	opts = opts.withDefaults()
	start := time.Now()
	tables := opts.Tables
	if len(tables) == 0 {
		tables = lake.Tables
	}
	sum := &Summary{Tables: map[string]*TableSummary{}, DryRun: opts.DryRun}
	failed := 0
	for _, name := range tables {
		t, err := l.Table(name)
		if err != nil {
			return sum, err
		}
		ts, err := vacuumTable(ctx, t, opts)
		if ts != nil {
			sum.Tables[name] = ts
			failed += ts.Failed
		}
		if err != nil {
			return sum, fmt.Errorf("vacuum %s: %w", name, err)
		}
	}
	if len(opts.Tables) == 0 {
		up, err := vacuumUploads(ctx, l.Store(), opts)
		sum.Uploads = up
		failed += up.Failed
		if err != nil {
			return sum, fmt.Errorf("vacuum import staging: %w", err)
		}
	}
	sum.Elapsed = time.Since(start)
	if failed > 0 {
		return sum, fmt.Errorf("%w: %d", ErrDeletesFailed, failed)
	}
	return sum, nil
}

// Plan lists what a run would delete from one table, without deleting.
func Plan(ctx context.Context, t *lake.Table, opts Options) (*TableSummary, error) {
	opts = opts.withDefaults()
	return plan(ctx, t, opts)
}

func plan(ctx context.Context, t *lake.Table, opts Options) (*TableSummary, error) {
	store := t.Log.Store()
	prefix := t.Log.Prefix() + "/"
	now := opts.Now()
	// List first, then read the snapshot: a file committed before the
	// snapshot was read is live in it; one staged after the listing is not
	// listed. Only files committed in between... cannot exist: they are
	// either in the snapshot (protected) or not yet committed (orphan grace).
	objs, err := store.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	snap, err := t.Refresh(ctx)
	if err != nil {
		return nil, err
	}
	ts := &TableSummary{Version: snap.Version, LiveFiles: snap.NumFiles(), Tombstones: snap.NumTombstones(),
		Deleted: map[Kind]int{}, LogRetainedFrom: -1}
	live, err := liveKeys(t.Log, snap)
	if err != nil {
		return nil, err
	}
	tombs := map[string]int64{}
	for _, r := range snap.Tombstones() {
		k, err := t.Log.DataKey(r.Path)
		if err != nil {
			continue // a foreign path (absolute URI): never ours to delete
		}
		tombs[k] = r.DeletionTimestamp
	}
	removedBefore := now.Add(-opts.Grace)
	orphanBefore := now.Add(-opts.OrphanGrace)
	logBefore := now.Add(-opts.LogRetention)

	var logObjs, indexObjs []storage.ObjectInfo
	for _, o := range objs {
		rel := strings.TrimPrefix(o.Key, prefix)
		switch {
		case strings.HasPrefix(rel, "_delta_log/"):
			logObjs = append(logObjs, o)
			continue
		case strings.HasPrefix(rel, "_indexes/"):
			indexObjs = append(indexObjs, o)
			continue
		case hidden(rel):
			continue // _-prefixed or dot dirs/files: not data, per the Delta spec
		}
		if live[o.Key] {
			continue
		}
		if ts0, ok := tombs[o.Key]; ok && ts0 > 0 {
			if time.UnixMilli(ts0).Before(removedBefore) {
				ts.Candidates = append(ts.Candidates, Candidate{Key: o.Key, Kind: KindRemoved, Size: o.Size})
			} else {
				ts.WithinGrace++
			}
			continue
		}
		// An orphan, or a tombstone without a timestamp: judged by age.
		if o.ModTime.Before(orphanBefore) {
			ts.Candidates = append(ts.Candidates, Candidate{Key: o.Key, Kind: KindOrphan, Size: o.Size})
		}
	}
	ts.Candidates = append(ts.Candidates, planLog(t, logObjs, logBefore, ts)...)
	ts.Candidates = append(ts.Candidates, planIndexes(ctx, store, indexObjs, snap, tombs, t.Log, removedBefore, orphanBefore, opts)...)
	return ts, nil
}

// hidden reports whether a path relative to the table root has a component
// starting with _ or . (Delta's rule for what is not table data).
func hidden(rel string) bool {
	for _, part := range strings.Split(rel, "/") {
		if strings.HasPrefix(part, "_") || strings.HasPrefix(part, ".") {
			return true
		}
	}
	return false
}

// planLog picks log entries to delete, as the Delta protocol's metadata
// cleanup says: find the newest checkpoint written before the retention
// cutoff (and no newer than the one _last_checkpoint names, so it is
// complete), and delete the commits and checkpoints of versions below it.
// Every version whose commit is within the retention is at or above that
// checkpoint, so it can still be rebuilt from it and the commits after it.
// Deleting each entry older than the cutoff one by one, as this did
// before, could delete the checkpoint and commits a retained version needs.
func planLog(t *lake.Table, objs []storage.ObjectInfo, before time.Time, ts *TableSummary) []Candidate {
	logDir := t.Log.Prefix() + "/_delta_log/"
	type entry struct {
		o          storage.ObjectInfo
		version    int64
		checkpoint bool
	}
	var entries []entry
	for _, o := range objs {
		name := strings.TrimPrefix(o.Key, logDir)
		if strings.Contains(name, "/") || len(name) < 21 {
			continue
		}
		v, err := strconv.ParseInt(name[:20], 10, 64)
		if err != nil {
			continue
		}
		rest := name[20:]
		switch {
		case rest == ".json":
			entries = append(entries, entry{o, v, false})
		case strings.HasPrefix(rest, ".checkpoint.") && strings.HasSuffix(rest, ".parquet"):
			entries = append(entries, entry{o, v, true})
		}
	}
	// A checkpoint newer than the hint may be torn (being written); one the
	// hint names, or an older one, is complete.
	hint := readHint(t)
	cutoff := int64(-1)
	for _, e := range entries {
		if e.checkpoint && e.version <= hint && e.o.ModTime.Before(before) {
			cutoff = max(cutoff, e.version)
		}
	}
	if cutoff < 0 {
		return nil
	}
	ts.LogRetainedFrom = cutoff
	var out []Candidate
	for _, e := range entries {
		if e.version >= cutoff {
			continue
		}
		k := KindLog
		if e.checkpoint {
			k = KindCheckpoint
		}
		out = append(out, Candidate{Key: e.o.Key, Kind: k, Size: e.o.Size})
	}
	return out
}

// readHint reads the version _last_checkpoint names, -1 if none.
var readHint = func(t *lake.Table) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := storage.ReadAll(ctx, t.Log.Store(), t.Log.Prefix()+"/_delta_log/_last_checkpoint")
	if err != nil {
		return -1
	}
	return parseHintVersion(b)
}

func vacuumTable(ctx context.Context, t *lake.Table, opts Options) (*TableSummary, error) {
	ts, err := plan(ctx, t, opts)
	if err != nil {
		return nil, err
	}
	if !opts.DryRun && len(ts.Candidates) > 0 {
		if beforeFinalCheck != nil {
			beforeFinalCheck()
		}
		// The last word: nothing live in the newest snapshot is deleted,
		// whatever the plan thought.
		snap, err := t.Refresh(ctx)
		if err != nil {
			return ts, err
		}
		live, err := liveKeys(t.Log, snap)
		if err != nil {
			return ts, err
		}
		kept := ts.Candidates[:0]
		for _, c := range ts.Candidates {
			if live[c.Key] {
				opts.Logger.Warn("vacuum: candidate is live; keeping it", "key", c.Key, "kind", c.Kind)
				continue
			}
			kept = append(kept, c)
		}
		ts.Candidates = kept
	}
	sort.Slice(ts.Candidates, func(i, j int) bool { return ts.Candidates[i].Key < ts.Candidates[j].Key })
	if opts.Progress != nil {
		opts.Progress(Event{Phase: PhasePlanned, Table: t.Name, Candidates: ts.Candidates})
	}
	if opts.DryRun {
		for _, c := range ts.Candidates {
			ts.Deleted[c.Kind]++
			ts.Bytes += c.Size
		}
		return ts, nil
	}
	// Data files first, log entries last: a crash in between leaves only
	// more to delete next time.
	store := t.Log.Store()
	var mu sync.Mutex
	work := make(chan Candidate)
	var wg sync.WaitGroup
	for range opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				err := store.Delete(ctx, c.Key)
				mu.Lock()
				if err != nil {
					ts.Failed++
					opts.Logger.Warn("vacuum: delete", "key", c.Key, "err", err)
				} else {
					ts.Deleted[c.Kind]++
					ts.Bytes += c.Size
				}
				if opts.Progress != nil {
					opts.Progress(Event{Phase: PhaseDeleted, Table: t.Name, Candidate: c, Err: err})
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, kinds := range [][]Kind{{KindRemoved, KindOrphan, KindIndex}, {KindLog, KindCheckpoint}} {
		for _, c := range ts.Candidates {
			if !slices.Contains(kinds, c.Kind) {
				continue
			}
			select {
			case work <- c:
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(work)
	wg.Wait()
	return ts, ctx.Err()
}

// beforeFinalCheck is a test hook: it runs between the plan and the final
// liveness check.
var beforeFinalCheck func()

// liveKeys are the store keys of a snapshot's live files.
func liveKeys(log *delta.Table, snap *delta.Snapshot) (map[string]bool, error) {
	live := make(map[string]bool, snap.NumFiles())
	for a := range snap.AllFiles() {
		k, err := log.DataKey(a.Path)
		if err != nil {
			return nil, err
		}
		live[k] = true
	}
	return live, nil
}
