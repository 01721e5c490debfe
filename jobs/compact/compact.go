package compact

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
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
	// StatusSkipped: a concurrent commit removed one of the inputs; the
	// outputs were deleted and the next run retries with a fresh plan.
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
	Err       error
}

// TableSummary adds up one table's groups.
type TableSummary struct {
	Groups, Compacted, Skipped, Failed int
	FilesIn, FilesOut                  int
	BytesIn, BytesOut                  int64
	RowsIn, RowsOut                    int64
}

// Summary is the run's result.
type Summary struct {
	Tables  map[string]*TableSummary
	Results []GroupResult
	Elapsed time.Duration
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
	}
	return t
}

// ErrGroupsFailed is returned (wrapped) when the run finished but some
// groups failed for reasons other than a lost race.
var ErrGroupsFailed = errors.New("some compaction groups failed")

// Run compacts the lake's tables: for each, it refreshes the snapshot, plans
// and merges group by group. A group that loses a race with another commit
// is skipped (not an error); the run returns ErrGroupsFailed when a group
// failed otherwise, and stops at the first error when ctx ends.
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
		snap, err := t.Refresh(ctx)
		if err != nil {
			return sum, err
		}
		groups, err := PlanSnapshot(snap, PlanOptions{TargetSize: opts.TargetSize})
		if err != nil {
			return sum, fmt.Errorf("plan %s: %w", name, err)
		}
		ts := &TableSummary{Groups: len(groups)}
		sum.Tables[name] = ts
		if opts.Progress != nil {
			opts.Progress(Event{Phase: PhasePlanned, Table: name, Groups: groups})
		}
		for i, g := range groups {
			var res GroupResult
			if opts.DryRun {
				res = GroupResult{Table: name, Partition: g.Partition, Status: StatusPlanned,
					FilesIn: len(g.Files), BytesIn: g.Size, RowsIn: g.Rows}
			} else {
				res = CompactGroup(ctx, l, name, g, opts)
			}
			if err := ctx.Err(); err != nil {
				return sum, err
			}
			switch res.Status {
			case StatusCompacted:
				ts.Compacted++
				ts.FilesIn += res.FilesIn
				ts.FilesOut += res.FilesOut
				ts.BytesIn += res.BytesIn
				ts.BytesOut += res.BytesOut
				ts.RowsIn += res.RowsIn
				ts.RowsOut += res.RowsOut
			case StatusSkipped:
				ts.Skipped++
			case StatusFailed:
				ts.Failed++
				failed++
			}
			sum.Results = append(sum.Results, res)
			if opts.Progress != nil {
				opts.Progress(Event{Phase: PhaseGroup, Table: name, Result: &res, Index: i})
			}
		}
	}
	sum.Elapsed = time.Since(start)
	if failed > 0 {
		return sum, fmt.Errorf("%w: %d", ErrGroupsFailed, failed)
	}
	return sum, nil
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
		files = append(files, FileInfo{Path: a.Path, Partition: p.String(), Size: a.Size, Rows: rows})
	}
	return Plan(files, opts), nil
}

// CompactGroup merges one group and commits the result. It never returns
// half a merge: on a lost race (delta.ErrConflict) or any definite refusal
// its outputs are deleted and the group is reported skipped or failed; when
// the commit's outcome is unknown the outputs stay for vacuum, since
// deleting a file a landed commit names would lose data.
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
	// The inputs as the log names them, from the newest snapshot this
	// process has: if one is gone already, another compaction won.
	snap := t.Cached()
	inputs := make([]delta.Add, 0, len(g.Files))
	for _, f := range g.Files {
		a, ok := snap.File(f.Path)
		if !ok {
			res.Status, res.Err = StatusSkipped, fmt.Errorf("%w: %s is no longer live", delta.ErrConflict, f.Path)
			return res
		}
		inputs = append(inputs, a)
	}
	part, err := lake.PartitionOf(inputs[0].PartitionValues)
	if err != nil {
		return fail(err)
	}
	target := opts.TargetSize
	if target <= 0 {
		target = DefaultTargetSize
	}
	var outs []lake.DataFile
	switch table {
	case schemas.TableMemories:
		outs, res.RowsIn, res.RowsOut, err = merge(ctx, t.Log, inputs, part, table, target, memoryKeys)
	case schemas.TableEntities:
		outs, res.RowsIn, res.RowsOut, err = merge(ctx, t.Log, inputs, part, table, target, entityKeys)
	case schemas.TableRelations:
		outs, res.RowsIn, res.RowsOut, err = merge(ctx, t.Log, inputs, part, table, target, relationKeys)
	default:
		err = fmt.Errorf("no row type for table %q", table)
	}
	if err != nil {
		return fail(err)
	}
	res.Collapsed = res.RowsIn - res.RowsOut
	res.FilesOut = len(outs)
	for _, f := range outs {
		res.BytesOut += f.Size
	}

	now := time.Now().UnixMilli()
	actions := make([]delta.Action, 0, 1+len(inputs)+len(outs))
	actions = append(actions, delta.Action{CommitInfo: map[string]any{
		"operation": "OPTIMIZE",
		"operationParameters": map[string]any{
			"partition": g.Partition, "targetSize": target, "collapsedVersions": res.Collapsed,
		},
		"engineInfo": "akosha-compact",
	}})
	for _, a := range inputs {
		r := a.RemoveAt(now)
		r.DataChange = false
		actions = append(actions, delta.Action{Remove: &r})
	}
	for _, f := range outs {
		a := f.Add(table, false)
		actions = append(actions, delta.Action{Add: &a})
	}
	cr, err := t.Commit(ctx, actions)
	if err != nil {
		switch {
		case errors.Is(err, delta.ErrConflict):
			discard(l.Store(), outs, opts.logger())
			res.Status, res.Err = StatusSkipped, err
			return res
		case errors.Is(err, delta.ErrUnsupported):
			discard(l.Store(), outs, opts.logger())
		}
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

// discard deletes outputs that will never be committed, on its own
// deadline: the caller's context may be what failed.
func discard(store storage.Store, files []lake.DataFile, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, f := range files {
		if err := store.Delete(ctx, f.Key); err != nil {
			log.Warn("compact: delete uncommitted output", "key", f.Key, "err", err)
		}
	}
}

// readWorkers bounds the inputs fetched and decoded at once.
const readWorkers = 4

// keys says how to read the identity, version and time of a row type.
type keys[R any] struct {
	id       func(*R) string
	ingested func(*R) time.Time
	created  func(*R) time.Time
}

var (
	memoryKeys = keys[schemas.MemoryRow]{
		id:       func(r *schemas.MemoryRow) string { return r.ID },
		ingested: func(r *schemas.MemoryRow) time.Time { return r.IngestedAt },
		created:  func(r *schemas.MemoryRow) time.Time { return r.CreatedAt },
	}
	entityKeys = keys[schemas.EntityRow]{
		id:       func(r *schemas.EntityRow) string { return r.ID },
		ingested: func(r *schemas.EntityRow) time.Time { return r.IngestedAt },
		created:  func(r *schemas.EntityRow) time.Time { return r.CreatedAt },
	}
	relationKeys = keys[schemas.RelationRow]{
		id:       func(r *schemas.RelationRow) string { return r.ID },
		ingested: func(r *schemas.RelationRow) time.Time { return r.IngestedAt },
		created:  func(r *schemas.RelationRow) time.Time { return r.CreatedAt },
	}
)

// merge reads the inputs, keeps the latest version of each id and writes
// the rows as files of about target bytes. Latest means what the query
// function's view means: the greatest ingested_at, then the later file (the
// inputs are in path order, and the lake's file names sort in write order),
// then the later row.
func merge[R any](ctx context.Context, log *delta.Table, inputs []delta.Add, part lake.Partition, table string, target int64, k keys[R]) (outs []lake.DataFile, rowsIn, rowsOut int64, err error) {
	store := log.Store()
	// Fetch and decode the inputs concurrently (object store latency and
	// decoding overlap), then fold them in path order.
	perFile := make([][]R, len(inputs))
	errs := make([]error, len(inputs))
	var bytesIn int64
	sem := make(chan struct{}, readWorkers)
	var wg sync.WaitGroup
	for i, a := range inputs {
		bytesIn += a.Size
		key, err := log.DataKey(a.Path)
		if err != nil {
			return nil, 0, 0, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			_, errs[i] = readRows(ctx, store, key, func(batch []R) { perFile[i] = append(perFile[i], batch...) })
			if errs[i] != nil {
				errs[i] = fmt.Errorf("read %s: %w", key, errs[i])
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, 0, 0, err
	}
	var rows []R
	pos := map[string]int{}
	for i := range perFile {
		for j := range perFile[i] {
			r := &perFile[i][j]
			rowsIn++
			id := k.id(r)
			if p, ok := pos[id]; ok {
				if !k.ingested(r).Before(k.ingested(&rows[p])) {
					rows[p] = *r
				}
				continue
			}
			pos[id] = len(rows)
			rows = append(rows, *r)
		}
		perFile[i] = nil
	}
	rowsOut = int64(len(rows))
	if rowsOut == 0 {
		return nil, rowsIn, 0, nil
	}
	// created_at order gives each output a narrow created_at range, which
	// the query planner prunes by.
	sort.SliceStable(rows, func(i, j int) bool { return k.created(&rows[i]).Before(k.created(&rows[j])) })

	// Outputs: split so each is about target bytes, estimated from the
	// inputs' bytes per row.
	est := bytesIn * rowsOut / max(rowsIn, 1)
	n := int((est + target - 1) / target)
	n = max(n, 1)
	per := (len(rows) + n - 1) / n
	var buf bytes.Buffer
	defer func() {
		if err != nil {
			discard(store, outs, slog.Default())
			outs = nil
		}
	}()
	for i := 0; i < len(rows); i += per {
		chunk := rows[i:min(i+per, len(rows))]
		buf.Reset()
		if err := lake.EncodeParquet(&buf, chunk); err != nil {
			return outs, rowsIn, rowsOut, err
		}
		f := lake.DataFile{
			Key:        part.Dir(table) + "/" + ulid.Make().String() + ".parquet",
			Partition:  part,
			Size:       int64(buf.Len()),
			Rows:       int64(len(chunk)),
			MinCreated: k.created(&chunk[0]),
			MaxCreated: k.created(&chunk[len(chunk)-1]),
		}
		if err := store.Put(ctx, f.Key, bytes.NewReader(buf.Bytes()), f.Size); err != nil {
			return outs, rowsIn, rowsOut, fmt.Errorf("stage %s: %w", f.Key, err)
		}
		outs = append(outs, f)
	}
	return outs, rowsIn, rowsOut, nil
}

// readRows reads a whole data file and hands its rows over in batches.
func readRows[R any](ctx context.Context, store storage.Store, key string, fn func([]R)) (int64, error) {
	b, err := storage.ReadAll(ctx, store, key)
	if err != nil {
		return 0, err
	}
	r := parquet.NewGenericReader[R](bytes.NewReader(b))
	defer r.Close()
	batch := make([]R, 1024)
	var n int64
	for {
		// Zeroed so the reader allocates fresh slices (embedding, tags):
		// fn keeps rows from earlier batches.
		clear(batch)
		k, err := r.Read(batch)
		if k > 0 {
			fn(batch[:k])
			n += int64(k)
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
