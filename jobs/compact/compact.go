package compact

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
)

// Options configure one run.
type Options struct {
	// Tables to compact; empty means all three.
	Tables []string
	// TargetSize is the output file size aimed at and the bound of a
	// group's input (default DefaultTargetSize). A group is held in memory
	// while it is merged, so this also bounds the job's memory (about twice
	// the target, decoded).
	TargetSize int64
	// DryRun plans and reports, and changes nothing.
	DryRun bool
	// Progress, when set, is called after the plan and after every group.
	Progress func(Event)
	// Logger for warnings; default slog.Default().
	Logger *slog.Logger
	// Workers merge this many groups at once (default DefaultWorkers).
	// Small groups are dominated by object store round trips and commit
	// latency, which overlap; their commits race for log versions and
	// retry, which costs little next to a merge.
	Workers int
	// Layouts are the tiers' compression levels and storage classes
	// (default lake.DefaultLayouts()); the encoding of a group's inputs is
	// kept whatever the layout says.
	Layouts map[string]lake.Layout
	// Retry bounds the tries of a partition whose merge lost a race
	// (default lake.DefaultRetry).
	Retry lake.Retry
	// Now decides which memories have expired (issue 16): the dedupe pass
	// removes every version of a record whose latest version's expires_at
	// is at or before it. Zero: the time the pass runs.
	Now time.Time
}

// Phase says what an Event reports.
type Phase string

const (
	PhasePlanned Phase = "planned" // a table's plan: Groups
	PhaseGroup   Phase = "group"   // one group finished: Result
)

// Event is one progress report.
type Event struct {
	Phase  Phase
	Table  string
	Groups []Group      // PhasePlanned
	Result *GroupResult // PhaseGroup
	Index  int          // PhaseGroup: 0-based index among the table's groups
}

// Status of one group.
type Status string

const (
	StatusCompacted Status = "compacted"
	// StatusSkipped: a concurrent commit removed one of the inputs on every
	// try (Options.Retry); the outputs were deleted and the next run plans
	// afresh.
	StatusSkipped Status = "skipped"
	StatusFailed  Status = "failed"
	StatusPlanned Status = "planned" // dry run
)

// GroupResult is what happened to one group.
type GroupResult struct {
	Table     string
	Partition string
	Status    Status
	FilesIn   int
	FilesOut  int
	BytesIn   int64
	BytesOut  int64
	RowsIn    int64
	RowsOut   int64
	Collapsed int64 // older versions dropped (RowsIn - RowsOut)
	Version   int64 // the commit, when compacted
	Attempts  int   // tries of its partition, this one included
	Err       error
}

// TableSummary adds up one table's groups.
type TableSummary struct {
	Groups, Compacted, Skipped, Failed int
	FilesIn, FilesOut                  int
	BytesIn, BytesOut                  int64
	RowsIn, RowsOut                    int64
	// Dedupe is the pass after the merges that removes versions other
	// partitions' rows supersede (dedupe.go).
	Dedupe DedupeResult
}

// Summary is the run's result.
type Summary struct {
	Tables  map[string]*TableSummary
	Results []GroupResult
	Elapsed time.Duration
}

// add counts one group's result.
func (t *TableSummary) add(r GroupResult) {
	switch r.Status {
	case StatusCompacted:
		t.Compacted++
		t.FilesIn += r.FilesIn
		t.FilesOut += r.FilesOut
		t.BytesIn += r.BytesIn
		t.BytesOut += r.BytesOut
		t.RowsIn += r.RowsIn
		t.RowsOut += r.RowsOut
	case StatusSkipped:
		t.Skipped++
	case StatusFailed:
		t.Failed++
	}
}

// Totals adds up every table.
func (s *Summary) Totals() TableSummary {
	var t TableSummary
	for _, ts := range s.Tables {
		t.Groups += ts.Groups
		t.Compacted += ts.Compacted
		t.Skipped += ts.Skipped
		t.Failed += ts.Failed
		t.FilesIn += ts.FilesIn
		t.FilesOut += ts.FilesOut
		t.BytesIn += ts.BytesIn
		t.BytesOut += ts.BytesOut
		t.RowsIn += ts.RowsIn
		t.RowsOut += ts.RowsOut
		t.Dedupe.Superseded += ts.Dedupe.Superseded
		t.Dedupe.FilesIn += ts.Dedupe.FilesIn
		t.Dedupe.FilesOut += ts.Dedupe.FilesOut
	}
	return t
}

// DefaultWorkers is how many groups are merged at once by default.
const DefaultWorkers = 4

// ErrGroupsFailed is returned (wrapped) when the run finished but some
// groups failed for reasons other than a lost race.
var ErrGroupsFailed = errors.New("some compaction groups failed")

// Run compacts the lake's tables: for each, it refreshes the snapshot, plans
// and merges group by group. A group that loses a race with another commit
// is planned again and retried (Options.Retry), then skipped (not an
// error); the run returns ErrGroupsFailed when a group failed otherwise, and
// stops at the first error when ctx ends.
func Run(ctx context.Context, l *lake.Lake, opts Options) (*Summary, error) {
	start := time.Now()
	tables := opts.Tables
	if len(tables) == 0 {
		tables = lake.Tables
	}
	sum := &Summary{Tables: map[string]*TableSummary{}}
	failed := 0
	for _, name := range tables {
		t, err := l.Table(name)
		if err != nil {
			return sum, err
		}
		groups, err := planTable(ctx, t, opts)
		if err != nil {
			return sum, err
		}
		ts := &TableSummary{Groups: len(groups)}
		sum.Tables[name] = ts
		if opts.Progress != nil {
			opts.Progress(Event{Phase: PhasePlanned, Table: name, Groups: groups})
		}
		results := runGroups(ctx, l, t, groups, opts)
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		for _, res := range results {
			ts.add(res)
		}
		failed += ts.Failed
		sum.Results = append(sum.Results, results...)
		if ts.Dedupe, err = dedupe(ctx, t, opts); err != nil {
			if ctx.Err() != nil {
				return sum, ctx.Err()
			}
			return sum, fmt.Errorf("remove superseded versions of %s: %w", name, err)
		}
	}
	sum.Elapsed = time.Since(start)
	if failed > 0 {
		return sum, fmt.Errorf("%w: %d", ErrGroupsFailed, failed)
	}
	return sum, nil
}

// runGroups merges a table's groups, opts.Workers partitions at once, and
// returns their results in plan order. The groups of one partition run one
// after another in one worker, so a partition's retry (its groups planned
// again after a lost race) never races its own other groups. Progress is
// reported from one goroutine at a time, as each group finishes.
func runGroups(ctx context.Context, l *lake.Lake, t *lake.Table, groups []Group, opts Options) []GroupResult {
	var units [][]Group
	for len(groups) > 0 {
		n := 1
		for n < len(groups) && groups[n].Partition == groups[0].Partition && groups[n].Encoding == groups[0].Encoding {
			n++
		}
		units = append(units, groups[:n])
		groups = groups[n:]
	}
	results := make([][]GroupResult, len(units))
	workers := opts.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	var mu sync.Mutex // serializes Progress and counts its index
	index := 0
	report := func(res GroupResult) {
		if opts.Progress == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		opts.Progress(Event{Phase: PhaseGroup, Table: t.Name, Result: &res, Index: index})
		index++
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, len(units)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = runPartition(ctx, l, t, units[i], opts, report)
			}
		}()
	}
feed:
	for i := range units {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	var out []GroupResult
	for _, r := range results {
		out = append(out, r...)
	}
	return out
}

// runPartition merges the groups planned for one partition and encoding.
// When some lost a race, it waits, plans the partition again on a fresh
// snapshot (merged groups are gone from it, the winner's files are in it)
// and merges what is left, up to opts.Retry.Attempts tries; the skips of
// the last try are what it returns.
func runPartition(ctx context.Context, l *lake.Lake, t *lake.Table, groups []Group, opts Options, report func(GroupResult)) []GroupResult {
	var out, lost []GroupResult
	emit := func(res GroupResult) {
		out = append(out, res)
		report(res)
	}
	part, enc := groups[0].Partition, groups[0].Encoding
	var replanErr error
	opts.Retry.Do(ctx, func(attempt int) (bool, error) {
		if attempt > 1 {
			again, err := planTable(ctx, t, opts)
			if err != nil {
				replanErr = fmt.Errorf("plan %s again: %w", part, err)
				return false, replanErr
			}
			groups = groups[:0:0]
			for _, g := range again {
				if g.Partition == part && g.Encoding == enc {
					groups = append(groups, g)
				}
			}
		}
		lost = lost[:0]
		for _, g := range groups {
			var res GroupResult
			if opts.DryRun {
				res = GroupResult{Table: t.Name, Partition: g.Partition, Status: StatusPlanned,
					FilesIn: len(g.Files), BytesIn: g.Size, RowsIn: g.Rows}
			} else {
				res = CompactGroup(ctx, l, t.Name, g, opts)
			}
			res.Attempts = attempt
			if res.Status == StatusSkipped && ctx.Err() == nil {
				lost = append(lost, res)
				continue
			}
			emit(res)
		}
		return len(lost) > 0, nil
	}) // its error is replanErr, or ctx's: the caller checks ctx
	if replanErr != nil {
		res := lost[0]
		res.Status, res.Err = StatusFailed, replanErr
		emit(res)
		return out
	}
	for _, res := range lost {
		emit(res)
	}
	return out
}

// planTable plans a table's compaction on a fresh snapshot, leaving out the
// partitions a tier move has reserved (lake.Table.Reserve): the move is
// rewriting them, and merging them now would only make it lose its race.
func planTable(ctx context.Context, t *lake.Table, opts Options) ([]Group, error) {
	reserved, err := t.Reserved(ctx)
	if err != nil {
		return nil, err
	}
	snap, err := t.Refresh(ctx)
	if err != nil {
		return nil, err
	}
	groups, err := PlanSnapshot(snap, PlanOptions{TargetSize: opts.TargetSize})
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", t.Name, err)
	}
	kept := groups[:0]
	for _, g := range groups {
		if !reserved[g.Partition] {
			kept = append(kept, g)
		}
	}
	return kept, nil
}

// PlanSnapshot plans the compaction of a snapshot's live files.
func PlanSnapshot(snap *delta.Snapshot, opts PlanOptions) ([]Group, error) {
	files := make([]FileInfo, 0, snap.NumFiles())
	for a := range snap.AllFiles() {
		p, err := lake.PartitionOf(a.PartitionValues)
		if err != nil {
			return nil, fmt.Errorf("file %s: %w", a.Path, err)
		}
		rows := int64(-1)
		if st, err := a.ParsedStats(); err == nil {
			rows = st.NumRecords
		}
		files = append(files, FileInfo{Path: a.Path, Partition: p.String(), Size: a.Size, Rows: rows, Encoding: lake.EncodingOf(a)})
	}
	return Plan(files, opts), nil
}

// CompactGroup merges one group and commits the result (lake.Table.Replace).
// It never returns half a merge: on a lost race (delta.ErrConflict) the
// group is skipped, and the next run plans afresh.
func CompactGroup(ctx context.Context, l *lake.Lake, table string, g Group, opts Options) GroupResult {
	res := GroupResult{Table: table, Partition: g.Partition, FilesIn: len(g.Files), BytesIn: g.Size}
	fail := func(err error) GroupResult {
		res.Status, res.Err = StatusFailed, err
		return res
	}
	t, err := l.Table(table)
	if err != nil {
		return fail(err)
	}
	// The inputs as the log names them: if one is gone already, another
	// compaction won.
	paths := make([]string, len(g.Files))
	for i, f := range g.Files {
		paths[i] = f.Path
	}
	inputs, err := t.LiveInputs(paths)
	if err != nil {
		res.Status, res.Err = StatusSkipped, err
		return res
	}
	part, err := lake.PartitionOf(inputs[0].PartitionValues)
	if err != nil {
		return fail(err)
	}
	target := opts.TargetSize
	if target <= 0 {
		target = DefaultTargetSize
	}
	layouts := opts.Layouts
	if layouts == nil {
		layouts = lake.DefaultLayouts()
	}
	layout := layouts[part.Tier]
	layout.Encoding = g.Encoding
	rw, err := t.Rewrite(ctx, inputs, part, layout, target)
	if errors.Is(err, delta.ErrConflict) {
		res.Status, res.Err = StatusSkipped, err
		return res
	}
	if err != nil {
		return fail(err)
	}
	outs := rw.Files
	res.RowsIn, res.RowsOut = rw.RowsIn, rw.RowsOut
	res.Collapsed = res.RowsIn - res.RowsOut
	res.FilesOut = len(outs)
	for _, f := range outs {
		res.BytesOut += f.Size
	}

	// Only a merge that dropped nothing rearranges the same rows; one that
	// collapsed versions removed rows, a data change for readers of the
	// table's changes (PROTOCOL.md: dataChange=false only when the same
	// rows are removed and re-added).
	cr, err := t.Replace(ctx, inputs, outs, res.Collapsed > 0, map[string]any{
		"operation": "OPTIMIZE",
		"operationParameters": map[string]any{
			"partition": g.Partition, "targetSize": target, "collapsedVersions": res.Collapsed,
		},
		"engineInfo": "akosha-compact",
	}, opts.logger())
	if errors.Is(err, delta.ErrConflict) {
		res.Status, res.Err = StatusSkipped, err
		return res
	}
	if err != nil {
		return fail(err)
	}
	res.Status, res.Version = StatusCompacted, cr.Version
	return res
}

func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}
