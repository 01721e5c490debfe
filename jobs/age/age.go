package age

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
)

// DefaultMaxMoveBytes bounds one move's input (and so the job's memory,
// about twice that decoded).
const DefaultMaxMoveBytes int64 = 256 << 20

// Options configure one run.
type Options struct {
	Policy Policy // default DefaultPolicy
	// Tables to age; empty means all three.
	Tables []string
	// Layouts of the target tiers (default lake.DefaultLayouts()).
	Layouts map[string]lake.Layout
	// MaxMoveBytes bounds one move's input (default DefaultMaxMoveBytes).
	MaxMoveBytes int64
	// Retry bounds the tries of a partition whose move lost a race
	// (default lake.DefaultRetry).
	Retry lake.Retry
	// Now is the time ages are counted at (default time.Now()).
	Now time.Time
	// DryRun plans and reports, and changes nothing.
	DryRun bool
	// Progress, when set, is called after each table's plan and after
	// every move.
	Progress func(Event)
	Logger   *slog.Logger
}

// Phase says what an Event reports.
type Phase string

const (
	PhasePlanned Phase = "planned" // a table's plan: Moves
	PhaseMove    Phase = "move"    // one move finished: Result
)

// Event is one progress report.
type Event struct {
	Phase  Phase
	Table  string
	Moves  []Move
	Result *MoveResult
	Index  int
}

// Status of one move.
type Status string

const (
	StatusMoved   Status = "moved"
	StatusDeleted Status = "deleted"
	// StatusSkipped: a concurrent commit removed one of the inputs on every
	// try (Options.Retry); the outputs were deleted and the next run plans
	// again.
	StatusSkipped Status = "skipped"
	StatusFailed  Status = "failed"
	StatusPlanned Status = "planned" // dry run
)

// MoveResult is what happened to one move.
type MoveResult struct {
	Table    string
	Kind     string // Move.Kind
	From     string // partition
	Status   Status
	FilesIn  int
	FilesOut int
	BytesIn  int64
	BytesOut int64
	RowsIn   int64
	RowsOut  int64
	Version  int64
	Attempts int // tries of its partition, this one included
	Err      error
}

// Summary is the run's result.
type Summary struct {
	Results []MoveResult
	// Counts by status, and the byte totals of the moves that landed.
	Moved, Deleted, Skipped, Failed int
	BytesIn, BytesOut               int64
	Elapsed                         time.Duration
}

func (s *Summary) add(r MoveResult) {
	s.Results = append(s.Results, r)
	switch r.Status {
	case StatusMoved:
		s.Moved++
		s.BytesIn += r.BytesIn
		s.BytesOut += r.BytesOut
	case StatusDeleted:
		s.Deleted++
		s.BytesIn += r.BytesIn
	case StatusSkipped:
		s.Skipped++
	case StatusFailed:
		s.Failed++
	}
}

// ErrMovesFailed is returned (wrapped) when the run finished but some moves
// failed for reasons other than a lost race.
var ErrMovesFailed = errors.New("some moves failed")

func (o Options) withDefaults() Options {
	if o.Policy == (Policy{}) {
		o.Policy = DefaultPolicy
	}
	if len(o.Tables) == 0 {
		o.Tables = lake.Tables
	}
	if o.Layouts == nil {
		o.Layouts = lake.DefaultLayouts()
	}
	if o.MaxMoveBytes <= 0 {
		o.MaxMoveBytes = DefaultMaxMoveBytes
	}
	o.Retry = o.Retry.WithDefaults()
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Run ages the lake's tables: for each, it refreshes the snapshot, plans
// and runs the moves one commit each. A partition whose move lost a race
// (a compaction removed one of its inputs) is planned again from a fresh
// snapshot and retried within the run (opts.Retry); only a partition that
// lost every try is reported skipped.
func Run(ctx context.Context, l *lake.Lake, opts Options) (*Summary, error) {
	opts = opts.withDefaults()
	if err := opts.Policy.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	sum := &Summary{}
	for _, name := range opts.Tables {
		t, err := l.Table(name)
		if err != nil {
			return sum, err
		}
		if err := runTable(ctx, t, opts, sum); err != nil {
			return sum, err
		}
	}
	sum.Elapsed = time.Since(start)
	if sum.Failed > 0 {
		return sum, fmt.Errorf("%w: %d", ErrMovesFailed, sum.Failed)
	}
	return sum, nil
}

// runTable plans a table's moves on a fresh snapshot and runs them
// partition by partition.
func runTable(ctx context.Context, t *lake.Table, opts Options, sum *Summary) error {
	snap, err := t.Refresh(ctx)
	if err != nil {
		return err
	}
	moves, err := PlanSnapshot(snap, opts)
	if err != nil {
		return fmt.Errorf("plan %s: %w", t.Name, err)
	}
	if opts.Progress != nil {
		opts.Progress(Event{Phase: PhasePlanned, Table: t.Name, Moves: moves})
	}
	index := 0
	report := func(res MoveResult) {
		sum.add(res)
		if res.Status == StatusFailed {
			opts.Logger.Warn("age: move failed", "table", t.Name, "move", res.Kind, "partition", res.From, "err", res.Err)
		}
		if opts.Progress != nil {
			opts.Progress(Event{Phase: PhaseMove, Table: t.Name, Result: &res, Index: index})
		}
		index++
	}
	for len(moves) > 0 {
		n := 1
		for n < len(moves) && moves[n].From == moves[0].From {
			n++
		}
		if err := runPartition(ctx, t, moves[:n], opts, report); err != nil {
			return err
		}
		moves = moves[n:]
	}
	return nil
}

// runPartition runs the moves planned for one partition. When some lost a
// race, it reserves the partition from compaction, waits, plans the
// partition again on a fresh snapshot (the moves that landed are gone from
// it, the winner's files are in it) and runs what is left, up to
// opts.Retry.Attempts tries; the skips of the last try are what it reports.
func runPartition(ctx context.Context, t *lake.Table, moves []Move, opts Options, report func(MoveResult)) error {
	from := moves[0].From
	var lost []MoveResult
	release := func() {}
	defer func() { release() }()
	err := opts.Retry.Do(ctx, func(attempt int) (bool, error) {
		if attempt > 1 {
			snap, err := t.Refresh(ctx)
			if err != nil {
				return false, err
			}
			all, err := PlanSnapshot(snap, opts)
			if err != nil {
				return false, fmt.Errorf("plan %s again: %w", t.Name, err)
			}
			moves = moves[:0:0]
			for _, m := range all {
				if m.From == from {
					moves = append(moves, m)
				}
			}
		}
		lost = lost[:0]
		for _, m := range moves {
			var res MoveResult
			if opts.DryRun {
				res = MoveResult{Table: t.Name, Kind: m.Kind(), From: m.From.String(), Status: StatusPlanned,
					FilesIn: len(m.Files), BytesIn: m.Size, RowsIn: m.Rows}
			} else {
				res = RunMove(ctx, t, m, opts)
			}
			if err := ctx.Err(); err != nil {
				return false, err
			}
			res.Attempts = attempt
			if res.Status == StatusSkipped {
				lost = append(lost, res)
				continue
			}
			report(res)
		}
		if len(lost) > 0 && attempt == 1 && opts.Retry.Attempts > 1 {
			// Claim the partition from compaction (lake.Table.Reserve):
			// once the merges already under way have committed, nothing
			// else rewrites it and a retry wins.
			r, err := t.Reserve(ctx, from, lake.DefaultReserveTTL)
			if err != nil {
				opts.Logger.Warn("age: reserve partition", "table", t.Name, "partition", from, "err", err)
			} else {
				release = r
			}
		}
		return len(lost) > 0, nil
	})
	if err != nil {
		return err
	}
	for _, res := range lost {
		report(res)
	}
	return nil
}

// PlanSnapshot plans the moves of a snapshot's live files.
func PlanSnapshot(snap *delta.Snapshot, opts Options) ([]Move, error) {
	opts = opts.withDefaults()
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
		files = append(files, FileInfo{Path: a.Path, Partition: p, Size: a.Size, Rows: rows})
	}
	return Plan(files, opts.Now, opts.Policy, opts.MaxMoveBytes), nil
}

// RunMove runs one move as one commit (a rewrite committed with
// lake.Table.Replace, or removes for a deletion). It never leaves half a
// move; one that loses a race is skipped and planned again.
func RunMove(ctx context.Context, t *lake.Table, m Move, opts Options) MoveResult {
	opts = opts.withDefaults()
	res := MoveResult{Table: t.Name, Kind: m.Kind(), From: m.From.String(), FilesIn: len(m.Files), BytesIn: m.Size}
	fail := func(err error) MoveResult {
		res.Status, res.Err = StatusFailed, err
		return res
	}
	paths := make([]string, len(m.Files))
	for i, f := range m.Files {
		paths[i] = f.Path
	}
	inputs, err := t.LiveInputs(paths)
	if err != nil {
		res.Status, res.Err = StatusSkipped, err
		return res
	}

	var cr *delta.CommitResult
	if m.Delete {
		// Past retention: the rows are gone for readers, so the removes
		// are data changes. The files stay until vacuum's grace period
		// ends, so queries running now finish.
		now := time.Now().UnixMilli()
		actions := []delta.Action{{CommitInfo: map[string]any{
			"operation": "DELETE", "engineInfo": "akosha-age",
			"operationParameters": map[string]any{"partition": res.From, "reason": "retention",
				"deleteAfterDays": opts.Policy.DeleteAfter},
		}}}
		for _, a := range inputs {
			r := a.RemoveAt(now)
			actions = append(actions, delta.Action{Remove: &r})
			if st, err := a.ParsedStats(); err == nil {
				res.RowsIn += st.NumRecords
			}
		}
		cr, err = t.Commit(ctx, actions)
	} else {
		to := m.From
		to.Tier = m.To
		layout, ok := opts.Layouts[m.To]
		if !ok {
			return fail(fmt.Errorf("no layout for tier %q", m.To))
		}
		var rw lake.Rewritten
		rw, err = t.Rewrite(ctx, inputs, to, layout, opts.MaxMoveBytes)
		if err == nil {
			res.RowsIn, res.RowsOut, res.FilesOut = rw.RowsIn, rw.RowsOut, len(rw.Files)
			for _, f := range rw.Files {
				res.BytesOut += f.Size
			}
			// A move changes rows, not only files: the tier column, the
			// embedding's encoding (warm and cold keep int8 codes, and
			// embedding is NULL to other engines), and versions collapsed
			// to the latest. The Delta protocol allows dataChange=false
			// only for a pure rearrangement, so a move is a data change.
			cr, err = t.Replace(ctx, inputs, rw.Files, true, map[string]any{
				"operation": "AKOSHA TIER MOVE", "engineInfo": "akosha-age",
				"operationParameters": map[string]any{"partition": res.From, "toTier": m.To,
					"encoding": layout.For(t.Name).Encoding, "storageClass": layout.StorageClass},
			}, opts.Logger)
		} else if !errors.Is(err, delta.ErrConflict) {
			err = fmt.Errorf("rewrite %s into %s: %w", res.From, m.To, err)
		}
	}
	switch {
	case errors.Is(err, delta.ErrConflict):
		res.Status, res.Err = StatusSkipped, err
		return res
	case err != nil:
		return fail(err)
	}
	res.Version = cr.Version
	if m.Delete {
		res.Status = StatusDeleted
	} else {
		res.Status = StatusMoved
	}
	return res
}
