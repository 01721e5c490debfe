package lake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// The layout before this one partitioned every table by system too:
// <table>/tier=<t>/system_id=<s>/day=<d>/, with system_id only in the
// paths. A fleet of thousands of systems made a partition (and a tiny file)
// per system and day, so the lake is now partitioned by tier and day, with
// system_id a column of every file (schemas/parquet.go). Migrate rewrites
// an old lake into the new layout.

// OldPartitionColumns are the partition columns of the layout partitioned
// by system.
var OldPartitionColumns = []string{"tier", "system_id", "day"}

// ErrOldLayout: the lake is in the layout partitioned by system, which this
// version reads only to migrate it.
var ErrOldLayout = errors.New("the lake is partitioned by system (tier/system_id/day), the layout before tier/day: " +
	"run `akosha lake migrate --lake <url>` once, with ingest and the jobs stopped, to rewrite it")

// checkLayout refuses a table whose partitioning this version does not
// write.
func checkLayout(name string, m delta.Metadata) error {
	switch {
	case slices.Equal(m.PartitionColumns, schemas.PartitionColumns):
		return nil
	case slices.Equal(m.PartitionColumns, OldPartitionColumns):
		return fmt.Errorf("table %s: %w", name, ErrOldLayout)
	default:
		return fmt.Errorf("table %s is partitioned by %v, which this version does not know (want %v)",
			name, m.PartitionColumns, schemas.PartitionColumns)
	}
}

// MigrateOptions tune Migrate. The zero value means the defaults.
type MigrateOptions struct {
	// TargetSize bounds an output file's bytes (default 128 MiB, as
	// compaction's target).
	TargetSize int64
	// Layouts are the tiers' encodings (default DefaultLayouts).
	Layouts map[string]Layout
	// DryRun plans and reports without writing.
	DryRun bool
	// Progress, when set, is told of each (tier, day) group as it is done.
	Progress func(MigrateEvent)
	Log      *slog.Logger
}

// MigrateEvent is one group of a table migrated (or reused from an earlier,
// interrupted run).
type MigrateEvent struct {
	Table     string
	Partition Partition
	Index     int // 1-based
	Total     int
	FilesIn   int
	FilesOut  int
	Reused    bool // staged by an earlier run that did not commit
}

// MigrateResult is what Migrate did to one table.
type MigrateResult struct {
	Table    string `json:"table"`
	Already  bool   `json:"already"` // in the new layout before this run
	FilesIn  int    `json:"files_in"`
	FilesOut int    `json:"files_out"`
	Rows     int64  `json:"rows"`
	Reused   int    `json:"groups_reused"` // groups staged by an interrupted run
	Version  int64  `json:"version"`       // the migration's commit (0 in a dry run or when already done)
	// Evolved: the table's schema gained the columns this version added
	// (expires_at, issue 16), in a metaData commit of its own when the
	// layout was already tier/day (or would, on a dry run).
	Evolved bool `json:"schema_evolved,omitempty"`
}

// migrateDir holds the staged groups of an interrupted migration:
// _migrate/<table>/tier=<t>/day=<d>.json names the inputs a group was made
// from and the outputs written, so a second run reuses them.
const migrateDir = "_migrate"

// migrateGroup is the progress record of one (tier, day).
type migrateGroup struct {
	Inputs  []string   `json:"inputs"` // paths and sizes: "path@size", sorted
	Outputs []DataFile `json:"outputs"`
}

// Migrate rewrites each table of the lake on store that is in the old
// layout into the new one, as a single Delta commit per table: a metaData
// action with the new partition columns, a remove of every live file and an
// add of every rewritten one (dataChange=false: the same rows, rearranged).
// Each (tier, day) of the old layout becomes files of up to TargetSize
// bytes sorted by (system_id, created_at), with system_id written into the
// rows from the old partition values.
//
// It is resumable: each group's outputs are recorded under _migrate/ before
// the commit, so a run after a crash reuses what the crashed one wrote, and
// a table already migrated is left alone. Anything it does not recognise (a
// partitioning other than the two layouts, a file without the old
// partition values) makes it refuse before writing anything. The commit
// conflicts with any concurrent write, so a lake still being written is
// never half migrated: stop ingest and the jobs first.
func Migrate(ctx context.Context, store storage.Store, opts MigrateOptions) ([]MigrateResult, error) {
	if opts.TargetSize <= 0 {
		opts.TargetSize = 128 << 20
	}
	if opts.Layouts == nil {
		opts.Layouts = DefaultLayouts()
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	var out []MigrateResult
	for _, name := range Tables {
		res, err := migrateTable(ctx, store, name, opts)
		if err != nil {
			return out, fmt.Errorf("migrate %s: %w", name, err)
		}
		out = append(out, res)
	}
	return out, nil
}

func migrateTable(ctx context.Context, store storage.Store, name string, opts MigrateOptions) (MigrateResult, error) {
	res := MigrateResult{Table: name}
	log := delta.NewTable(store, name)
	snap, err := log.Snapshot(ctx)
	if errors.Is(err, storage.ErrNotExist) {
		res.Already = true // nothing to migrate: Open creates it in the new layout
		return res, nil
	}
	if err != nil {
		return res, err
	}
	if slices.Equal(snap.Metadata.PartitionColumns, schemas.PartitionColumns) {
		res.Already = true
		return evolveSchema(ctx, log, snap, name, opts, res)
	}
	if !slices.Equal(snap.Metadata.PartitionColumns, OldPartitionColumns) {
		return res, checkLayout(name, snap.Metadata)
	}
	// Plan every group before writing anything, so a file it does not
	// recognise stops the run with nothing written.
	type group struct {
		part   Partition
		inputs []delta.Add
	}
	byPart := map[Partition]*group{}
	for a := range snap.AllFiles() {
		tier, sys, day := a.PartitionValues["tier"], a.PartitionValues["system_id"], a.PartitionValues["day"]
		if tier == nil || sys == nil || day == nil || *sys == "" || *day == "" {
			return res, fmt.Errorf("file %s has no tier, system_id or day partition value", a.Path)
		}
		if _, ok := opts.Layouts[*tier]; !ok {
			return res, fmt.Errorf("file %s is in tier %q, which has no layout", a.Path, *tier)
		}
		p := Partition{Tier: *tier, Day: *day}
		g := byPart[p]
		if g == nil {
			g = &group{part: p}
			byPart[p] = g
		}
		g.inputs = append(g.inputs, a)
	}
	groups := make([]*group, 0, len(byPart))
	for _, g := range byPart {
		sort.Slice(g.inputs, func(i, j int) bool { return g.inputs[i].Path < g.inputs[j].Path })
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].part.String() < groups[j].part.String() })

	t := &Table{Name: name, Log: log}
	var adds []DataFile
	for i, g := range groups {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		res.FilesIn += len(g.inputs)
		ev := MigrateEvent{Table: name, Partition: g.part, Index: i + 1, Total: len(groups), FilesIn: len(g.inputs)}
		if opts.DryRun {
			if opts.Progress != nil {
				opts.Progress(ev)
			}
			continue
		}
		files, reused, err := migratePartition(ctx, t, g.part, g.inputs, opts)
		if err != nil {
			return res, fmt.Errorf("%s: %w", g.part, err)
		}
		for _, f := range files {
			res.Rows += f.Rows
		}
		if reused {
			res.Reused++
		}
		adds = append(adds, files...)
		ev.FilesOut, ev.Reused = len(files), reused
		if opts.Progress != nil {
			opts.Progress(ev)
		}
	}
	res.FilesOut = len(adds)
	if opts.DryRun {
		return res, nil
	}
	meta := snap.Metadata
	meta.PartitionColumns = slices.Clone(schemas.PartitionColumns)
	if want, err := schemas.DeltaSchemaString(name); err == nil && want != meta.SchemaString {
		// The rows were rewritten in this version's form.
		meta.SchemaString, res.Evolved = want, true
	}
	actions := []delta.Action{
		{CommitInfo: map[string]any{
			"operation":  "AKOSHA MIGRATE",
			"engineInfo": "akosha-lake-migrate",
			"operationParameters": map[string]any{
				"from": strings.Join(OldPartitionColumns, "/"), "to": strings.Join(schemas.PartitionColumns, "/"),
				"filesIn": res.FilesIn, "filesOut": res.FilesOut,
			},
		}},
		{MetaData: &meta},
	}
	now := time.Now().UnixMilli()
	for _, g := range groups {
		for _, a := range g.inputs {
			rm := a.RemoveAt(now)
			rm.DataChange = false
			actions = append(actions, delta.Action{Remove: &rm})
		}
	}
	for _, f := range adds {
		a := f.Add(name, false)
		actions = append(actions, delta.Action{Add: &a})
	}
	cr, err := log.Commit(ctx, snap, actions)
	if err != nil {
		return res, fmt.Errorf("commit (stop ingest and the jobs, then run again: what is staged is reused): %w", err)
	}
	res.Version = cr.Version
	// The progress records served their purpose; left behind they would
	// only be reused by nobody.
	if objs, err := store.List(ctx, migrateDir+"/"+name+"/"); err == nil {
		for _, o := range objs {
			if err := store.Delete(ctx, o.Key); err != nil {
				opts.Log.Warn("migrate: delete progress record", "key", o.Key, "err", err)
			}
		}
	}
	return res, nil
}

// migratePartition writes the rows of one old (tier, day), all systems,
// as new files, or returns the files an interrupted run recorded for the
// same inputs.
func migratePartition(ctx context.Context, t *Table, part Partition, inputs []delta.Add, opts MigrateOptions) ([]DataFile, bool, error) {
	store := t.Log.Store()
	recKey := fmt.Sprintf("%s/%s/%s.json", migrateDir, t.Name, part)
	ids := make([]string, len(inputs))
	for i, a := range inputs {
		ids[i] = fmt.Sprintf("%s@%d", a.Path, a.Size)
	}
	if b, err := storage.ReadAll(ctx, store, recKey); err == nil {
		var rec migrateGroup
		if json.Unmarshal(b, &rec) == nil && slices.Equal(rec.Inputs, ids) && outputsExist(ctx, store, rec.Outputs) {
			return rec.Outputs, true, nil
		}
	} else if !errors.Is(err, storage.ErrNotExist) {
		return nil, false, fmt.Errorf("read %s: %w", recKey, err)
	}
	layout := opts.Layouts[part.Tier].For(t.Name)
	var files []DataFile
	var err error
	switch t.Name {
	case schemas.TableMemories:
		files, err = migrateRows(ctx, t, part, inputs, layout, opts.TargetSize, memoryRows,
			func(r *schemas.MemoryRow, s string) { r.SystemID = s })
	case schemas.TableEntities:
		files, err = migrateRows(ctx, t, part, inputs, layout, opts.TargetSize, entityRows,
			func(r *schemas.EntityRow, s string) { r.SystemID = s })
	case schemas.TableRelations:
		files, err = migrateRows(ctx, t, part, inputs, layout, opts.TargetSize, relationRows,
			func(r *schemas.RelationRow, s string) { r.SystemID = s })
	default:
		err = fmt.Errorf("no table %q", t.Name)
	}
	if err != nil {
		return nil, false, err
	}
	b, err := json.Marshal(migrateGroup{Inputs: ids, Outputs: files})
	if err != nil {
		return nil, false, err
	}
	if err := store.Put(ctx, recKey, bytes.NewReader(b), int64(len(b))); err != nil {
		Discard(store, files, opts.Log)
		return nil, false, fmt.Errorf("write %s: %w", recKey, err)
	}
	return files, false, nil
}

func outputsExist(ctx context.Context, store storage.Store, files []DataFile) bool {
	for _, f := range files {
		info, err := store.Head(ctx, f.Key)
		if err != nil || info.Size != f.Size {
			return false
		}
	}
	return true
}

// migrateRows reads every row of inputs (files of one old partition each,
// so one system each), names its system, sorts them by (system_id,
// created_at) and writes them as files of about target bytes. Versions are
// kept as they are: a migration rearranges rows, it does not change them.
func migrateRows[R any](ctx context.Context, t *Table, part Partition, inputs []delta.Add, layout Layout, target int64, k rowKind[R], setSystem func(*R, string)) (files []DataFile, err error) {
	store := t.Log.Store()
	var rows []R
	var bytesIn int64
	for _, a := range inputs {
		key, err := t.Log.DataKey(a.Path)
		if err != nil {
			return nil, err
		}
		b, err := storage.ReadAll(ctx, store, key)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", key, err)
		}
		sys := *a.PartitionValues["system_id"]
		err = k.read(b, EncodingOf(a), func(batch []R) {
			for i := range batch {
				setSystem(&batch[i], sys)
			}
			rows = append(rows, batch...)
		})
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", key, err)
		}
		bytesIn += a.Size
	}
	if len(rows) == 0 {
		return nil, nil
	}
	sortRows(rows)
	n := max(int((bytesIn+target-1)/target), 1)
	per := (len(rows) + n - 1) / n
	defer func() {
		if err != nil {
			Discard(store, files, slog.Default())
			files = nil
		}
	}()
	for i := 0; i < len(rows); i += per {
		f, err := stageRows(ctx, t, part, layout, rows[i:min(i+per, len(rows))], k)
		if err != nil {
			return files, err
		}
		files = append(files, f)
	}
	return files, nil
}

// evolveSchema brings the schema of a table already in the tier/day layout
// to this version's, when this version only added nullable columns to it
// (expires_at, issue 16): Akosha's own readers take a missing column as
// NULL, but engines that read the Delta log (Spark, Trino, delta-rs) see
// only the columns its schema names. One metaData commit, which conflicts
// with any concurrent write (stop ingest and the jobs first, as for the
// layout migration). A schema that is not a prefix of this version's
// columns is left alone.
func evolveSchema(ctx context.Context, log *delta.Table, snap *delta.Snapshot, name string, opts MigrateOptions, res MigrateResult) (MigrateResult, error) {
	want, err := schemas.DeltaSchemaString(name)
	if err != nil || snap.Metadata.SchemaString == want {
		return res, err
	}
	have, err := snap.Metadata.Schema()
	if err != nil {
		return res, fmt.Errorf("read the schema: %w", err)
	}
	next, err := (&delta.Metadata{SchemaString: want}).Schema()
	if err != nil {
		return res, err
	}
	names := func(s *delta.StructType) map[string]bool {
		out := map[string]bool{}
		for _, f := range s.Fields {
			out[f.Name] = true
		}
		return out
	}
	nextNames := names(next)
	for n := range names(have) {
		if !nextNames[n] {
			opts.Log.Warn("migrate: schema has a column this version does not know; left alone", "table", name, "column", n)
			return res, nil
		}
	}
	res.Evolved = true
	if opts.DryRun {
		return res, nil
	}
	meta := snap.Metadata
	meta.SchemaString = want
	cr, err := log.Commit(ctx, snap, []delta.Action{
		{CommitInfo: map[string]any{
			"operation":           "AKOSHA SCHEMA EVOLVE",
			"engineInfo":          "akosha-lake-migrate",
			"operationParameters": map[string]any{"added": "nullable columns of this version (expires_at)"},
		}},
		{MetaData: &meta},
	})
	if err != nil {
		return res, fmt.Errorf("commit the new schema (stop ingest and the jobs, then run again): %w", err)
	}
	res.Version = cr.Version
	return res, nil
}
