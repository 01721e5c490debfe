package compact

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/erasures"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// Latest-wins in the table itself. A record re-sent with a created_at on
// another day lands in another partition, and a merge collapses versions
// only within its partition, so both versions stayed in the table: the
// query function's views picked the newest, but Spark, Trino or DuckDB
// reading the log counted both and could see the old content. After its
// merges, a compaction run therefore finds, across every partition and
// tier, the rows another version supersedes and removes them with a
// copy-on-write rewrite of the files holding them (remove + add,
// dataChange=true, one commit per table).

// FileKeys is what dedupe reads of one live file: each row's record key
// (system_id/id) and ingested_at (Unix microseconds, math.MinInt64 when
// null), in file order.
type FileKeys struct {
	Path     string
	Keys     []string
	Ingested []int64
	// Expires is each row's expires_at (Unix microseconds), 0 when it has
	// none; nil when no row of the file has one (issue 16).
	Expires []int64
}

// PlanSuperseded returns, per file path, the numbers of the rows that
// another version of their record supersedes. It is a pure function. The
// latest version is the one the SQL views keep: the greatest ingested_at,
// then the later file path, then the later row.
func PlanSuperseded(files []FileKeys) map[string]map[int64]bool {
	drop, _ := PlanForgotten(files, math.MinInt64)
	return drop
}

// PlanForgotten is PlanSuperseded that also drops every version of a
// record whose latest version expired at or before now (Unix
// microseconds): the SQL views hide such a record, and removing only its
// expired latest version would bring an older one back. expired counts
// those records. It is a pure function.
func PlanForgotten(files []FileKeys, now int64) (drop map[string]map[int64]bool, expired int64) {
	type ref struct {
		file     int
		row      int64
		ingested int64
	}
	later := func(a, b ref) bool { // a is a later version than b
		if a.ingested != b.ingested {
			return a.ingested > b.ingested
		}
		if c := cmp.Compare(files[a.file].Path, files[b.file].Path); c != 0 {
			return c > 0
		}
		return a.row > b.row
	}
	latest := map[string]ref{}
	drop = map[string]map[int64]bool{}
	mark := func(r ref) {
		p := files[r.file].Path
		if drop[p] == nil {
			drop[p] = map[int64]bool{}
		}
		drop[p][r.row] = true
	}
	for fi, f := range files {
		for ri, key := range f.Keys {
			r := ref{fi, int64(ri), f.Ingested[ri]}
			cur, seen := latest[key]
			switch {
			case !seen:
				latest[key] = r
			case later(r, cur):
				mark(cur)
				latest[key] = r
			default:
				mark(r)
			}
		}
	}
	for _, r := range latest {
		if ex := files[r.file].Expires; ex != nil && ex[r.row] != 0 && ex[r.row] <= now {
			mark(r)
			expired++
		}
	}
	return drop, expired
}

// DedupeResult is what a dedupe pass did to one table.
type DedupeResult struct {
	Superseded int64 // rows removed (expired records' included)
	// Expired counts the records removed because their latest version
	// expired; Erasure is the erasure record written for them.
	Expired  int64
	Erasure  string
	FilesIn  int // files rewritten (or removed, when every row went)
	FilesOut int
	Version  int64 // the commit, when one was made
	Attempts int
	// Skipped: every try lost its race with another commit; the next run
	// plans again.
	Skipped bool
}

// dedupe removes the superseded rows of table t in one commit, planned
// again and retried when a concurrent commit removed one of its inputs.
func dedupe(ctx context.Context, t *lake.Table, opts Options) (DedupeResult, error) {
	layouts := opts.Layouts
	if layouts == nil {
		layouts = lake.DefaultLayouts()
	}
	var res DedupeResult
	lostRace := false
	err := opts.Retry.Do(ctx, func(attempt int) (bool, error) {
		var err error
		res, err = dedupeOnce(ctx, t, layouts, opts)
		res.Attempts = attempt
		lostRace = errors.Is(err, delta.ErrConflict)
		if lostRace {
			return true, nil
		}
		return false, err
	})
	if err == nil && lostRace {
		opts.logger().Warn("compact: superseded versions left for the next run: every try lost a race",
			"table", t.Name, "tries", res.Attempts)
		res.Skipped = true
	}
	return res, err
}

func dedupeOnce(ctx context.Context, t *lake.Table, layouts map[string]lake.Layout, opts Options) (DedupeResult, error) {
	var res DedupeResult
	reserved, err := t.Reserved(ctx)
	if err != nil {
		return res, err
	}
	snap, err := t.Refresh(ctx)
	if err != nil {
		return res, err
	}
	files := snap.Files()
	slices.SortFunc(files, func(a, b delta.Add) int { return cmp.Compare(a.Path, b.Path) })
	keys := make([]FileKeys, len(files))
	for i, a := range files {
		if keys[i], err = readFileKeys(ctx, t, a); err != nil {
			if errors.Is(err, storage.ErrNotExist) {
				return res, fmt.Errorf("%w: %s was removed meanwhile: %w", delta.ErrConflict, a.Path, err)
			}
			return res, err
		}
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	drop, expired := PlanForgotten(keys, now.UnixMicro())
	// A partition a tier move has reserved is left to the move, which
	// collapses versions too; the rest waits for the next run.
	for _, a := range files {
		if p, err := lake.PartitionOf(a.PartitionValues); err == nil && reserved[p.String()] {
			delete(drop, a.Path)
		}
	}
	if len(drop) == 0 || opts.DryRun {
		for _, rows := range drop {
			res.Superseded += int64(len(rows))
		}
		res.FilesIn = len(drop)
		res.Expired = expired
		return res, nil
	}
	var inputs []delta.Add
	var outs []lake.DataFile
	discard := func() { lake.Discard(t.Log.Store(), outs, opts.logger()) }
	for _, a := range files {
		rows := drop[a.Path]
		if len(rows) == 0 {
			continue
		}
		out, err := t.WithoutRows(ctx, a, rows, layouts)
		if err != nil {
			discard()
			return res, fmt.Errorf("rewrite %s without %d superseded rows: %w", a.Path, len(rows), err)
		}
		inputs = append(inputs, a)
		if out != nil {
			outs = append(outs, *out)
		}
		res.Superseded += int64(len(rows))
	}
	res.FilesIn, res.FilesOut = len(inputs), len(outs)
	op, predicate := "AKOSHA DEDUPE", "rows superseded by a later version of their record (system_id, id)"
	params := map[string]any{"predicate": predicate, "rowsRemoved": res.Superseded}
	if expired > 0 {
		// Expiry is a forgetting: it says so in the log (ids never, nor
		// content) and leaves an erasure record, as a delete does.
		op = ExpireOperation
		params["predicate"] = predicate + ", and every version of a record whose latest version expired (expires_at <= '" +
			now.UTC().Format(time.RFC3339Nano) + "')"
		params["recordsExpired"] = expired
	}
	cr, err := t.Replace(ctx, inputs, outs, true, map[string]any{
		"operation":           op,
		"engineInfo":          "akosha-compact",
		"operationParameters": params,
	}, opts.logger())
	if err != nil {
		return res, err
	}
	res.Version = cr.Version
	res.Expired = expired
	if expired > 0 {
		// The row goes to the lake's erasure log (lake/erasures). Expiry
		// spans systems and tenants: the row names none, and only admins
		// see it.
		filter, _ := json.Marshal(map[string]any{"table": t.Name, "expired_at_or_before": now.UTC()})
		rec, err := erasures.New(t.Log.Store()).Append(ctx, erasures.Record{
			Who: "job:compact", Operation: erasures.OpExpire, Filter: filter, Deleted: expired,
			Tables: map[string]erasures.TableCounts{t.Name: {
				Deleted: expired, Rows: res.Superseded, Files: res.FilesIn, Version: cr.Version,
			}},
		})
		if err != nil {
			// The rows are gone; the record of it is not. Say so loudly
			// rather than fail a run whose commit landed.
			opts.logger().Error("compact: erasure record of expired records not written", "table", t.Name, "err", err, "expired", expired)
		}
		key := rec.Key
		res.Erasure = key
	}
	return res, nil
}

// ExpireOperation is the commitInfo operation of a dedupe pass that removed
// expired records.
const ExpireOperation = "AKOSHA EXPIRE"

// readFileKeys reads the record keys and ingested_at of a data file: three
// columns, fetched with ranged reads (lake.Table.ReadColumns, which the
// ingest function's deletes plan with too). system_id comes from the
// file's column when it has one, else from its partition value.
func readFileKeys(ctx context.Context, t *lake.Table, a delta.Add) (FileKeys, error) {
	fk := FileKeys{Path: a.Path}
	var systems []string
	cols := []string{"system_id", "id", "ingested_at"}
	// Only memories expire; a file whose statistics say no row has an
	// expiry is not read for it (lake.ExpiryOf).
	if t.Name == schemas.TableMemories && lake.ExpiryOf(a).Rows > 0 {
		cols = append(cols, "expires_at")
		fk.Expires = []int64{}
	}
	_, missing, err := t.ReadColumns(ctx, a, cols, func(c int, v parquet.Value) {
		switch c {
		case 0:
			systems = append(systems, v.String())
		case 1:
			fk.Keys = append(fk.Keys, v.String())
		case 2:
			if v.IsNull() {
				fk.Ingested = append(fk.Ingested, math.MinInt64)
				return
			}
			fk.Ingested = append(fk.Ingested, v.Int64())
		default:
			if v.IsNull() {
				fk.Expires = append(fk.Expires, 0)
				return
			}
			fk.Expires = append(fk.Expires, v.Int64())
		}
	})
	if err != nil {
		return fk, err
	}
	if slices.Contains(missing, "id") || slices.Contains(missing, "ingested_at") {
		return fk, fmt.Errorf("%s: no %v column", a.Path, missing)
	}
	if slices.Contains(missing, "system_id") { // neither column nor partition value
		systems = make([]string, len(fk.Keys))
	}
	if slices.Contains(missing, "expires_at") {
		fk.Expires = nil
	}
	if len(fk.Ingested) != len(fk.Keys) || len(systems) != len(fk.Keys) || fk.Expires != nil && len(fk.Expires) != len(fk.Keys) {
		return fk, fmt.Errorf("%s: %d ids, %d ingested_at, %d system_ids", a.Path, len(fk.Keys), len(fk.Ingested), len(systems))
	}
	for i := range fk.Keys {
		fk.Keys[i] = systems[i] + "/" + fk.Keys[i]
	}
	return fk, nil
}
