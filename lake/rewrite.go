package lake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// Rewritten is what Rewrite staged: files not yet named by the log.
type Rewritten struct {
	Files   []DataFile
	RowsIn  int64
	RowsOut int64 // RowsIn less the older versions dropped
	BytesIn int64
}

// Rewrite reads data files of t, keeps the latest version of each record
// and writes the rows into partition to, in files of about target bytes
// with the given layout. Compaction rewrites a partition into itself; the
// age job rewrites one into the next tier. The outputs are staged, not
// committed: the caller commits them (with the inputs' removes) or
// discards them; on error Rewrite has deleted what it wrote. An input that
// another commit removed (and vacuum deleted) meanwhile is reported as
// delta.ErrConflict, like a lost commit race.
//
// Latest means what the SQL views mean: the greatest ingested_at, then the
// later input (inputs are in path order, and the lake's file names sort in
// write order), then the later row. Every input is read into memory, so the
// inputs' decoded size bounds the memory used.
func (t *Table) Rewrite(ctx context.Context, inputs []delta.Add, to Partition, layout Layout, target int64) (Rewritten, error) {
	layout = layout.For(t.Name)
	switch t.Name {
	case schemas.TableMemories:
		return rewrite(ctx, t, inputs, to, layout, target, memoryRows)
	case schemas.TableEntities:
		return rewrite(ctx, t, inputs, to, layout, target, entityRows)
	case schemas.TableRelations:
		return rewrite(ctx, t, inputs, to, layout, target, relationRows)
	}
	return Rewritten{}, fmt.Errorf("no row type for table %q", t.Name)
}

// LiveInputs returns the add actions of paths from the newest snapshot
// this process has, or an error wrapping delta.ErrConflict when one is no
// longer live: another rewrite (a compaction, a move) won it.
func (t *Table) LiveInputs(paths []string) ([]delta.Add, error) {
	snap := t.Cached()
	inputs := make([]delta.Add, 0, len(paths))
	for _, p := range paths {
		a, ok := snap.File(p)
		if !ok {
			return nil, fmt.Errorf("%w: %s is no longer live", delta.ErrConflict, p)
		}
		inputs = append(inputs, a)
	}
	return inputs, nil
}

// Replace commits a rewrite: removes of inputs and adds of outs after
// commitInfo. dataChange says whether readers of the table's changes must
// see them: the Delta protocol allows false only when the outs hold exactly
// the rows the inputs held (a pure rearrangement, such as a compaction that
// collapsed no versions); a rewrite that drops superseded versions or
// changes a column (a tier move) is a data change. On a definite refusal (a lost race, delta.ErrConflict; an
// unsupported table) it deletes outs, which no commit names; when the
// outcome is unknown they stay for vacuum, since deleting a file a landed
// commit names would lose data.
func (t *Table) Replace(ctx context.Context, inputs []delta.Add, outs []DataFile, dataChange bool, commitInfo map[string]any, log *slog.Logger) (*delta.CommitResult, error) {
	now := time.Now().UnixMilli()
	actions := make([]delta.Action, 0, 1+len(inputs)+len(outs))
	actions = append(actions, delta.Action{CommitInfo: commitInfo})
	for _, a := range inputs {
		r := a.RemoveAt(now)
		r.DataChange = dataChange
		actions = append(actions, delta.Action{Remove: &r})
	}
	for _, f := range outs {
		a := f.Add(t.Name, dataChange)
		actions = append(actions, delta.Action{Add: &a})
	}
	cr, err := t.Commit(ctx, actions)
	if errors.Is(err, delta.ErrConflict) || errors.Is(err, delta.ErrUnsupported) {
		Discard(t.Log.Store(), outs, log)
	}
	return cr, err
}

// Discard deletes staged files that will never be committed, on its own
// deadline: the caller's context may be what failed.
func Discard(store storage.Store, files []DataFile, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, f := range files {
		if err := store.Delete(ctx, f.Key); err != nil {
			log.Warn("delete uncommitted output", "key", f.Key, "err", err)
		}
	}
}

// rowKind says how to read and write one table's rows.
type rowKind[R any] struct {
	id       func(*R) string // the record key: system_id/id
	ingested func(*R) time.Time
	created  func(*R) time.Time
	// read decodes a whole file of the given encoding into rows.
	read func(b []byte, encoding string, fn func([]R)) error
	// encode writes rows as a file of the given layout.
	encode func(buf *bytes.Buffer, rows []R, l Layout) error
}

var (
	memoryRows = rowKind[schemas.MemoryRow]{
		id:       func(r *schemas.MemoryRow) string { return r.SystemID + "/" + r.ID },
		ingested: func(r *schemas.MemoryRow) time.Time { return r.IngestedAt },
		created:  func(r *schemas.MemoryRow) time.Time { return r.CreatedAt },
		read: func(b []byte, encoding string, fn func([]schemas.MemoryRow)) error {
			if encoding != EncodingInt8 {
				return decodeRows(b, fn)
			}
			return decodeRows(b, func(q []schemas.QuantizedMemoryRow) {
				rows := make([]schemas.MemoryRow, len(q))
				for i := range q {
					rows[i] = q[i].MemoryRow()
				}
				fn(rows)
			})
		},
		encode: func(buf *bytes.Buffer, rows []schemas.MemoryRow, l Layout) error {
			if l.Encoding != EncodingInt8 {
				return EncodeParquetLevel(buf, rows, l.Compression)
			}
			q := make([]schemas.QuantizedMemoryRow, len(rows))
			for i := range rows {
				q[i] = rows[i].Quantized()
			}
			return EncodeParquetLevel(buf, q, l.Compression)
		},
	}
	entityRows = rowKind[schemas.EntityRow]{
		id:       func(r *schemas.EntityRow) string { return r.SystemID + "/" + r.ID },
		ingested: func(r *schemas.EntityRow) time.Time { return r.IngestedAt },
		created:  func(r *schemas.EntityRow) time.Time { return r.CreatedAt },
		read:     func(b []byte, _ string, fn func([]schemas.EntityRow)) error { return decodeRows(b, fn) },
		encode: func(buf *bytes.Buffer, rows []schemas.EntityRow, l Layout) error {
			return EncodeParquetLevel(buf, rows, l.Compression)
		},
	}
	relationRows = rowKind[schemas.RelationRow]{
		id:       func(r *schemas.RelationRow) string { return r.SystemID + "/" + r.ID },
		ingested: func(r *schemas.RelationRow) time.Time { return r.IngestedAt },
		created:  func(r *schemas.RelationRow) time.Time { return r.CreatedAt },
		read:     func(b []byte, _ string, fn func([]schemas.RelationRow)) error { return decodeRows(b, fn) },
		encode: func(buf *bytes.Buffer, rows []schemas.RelationRow, l Layout) error {
			return EncodeParquetLevel(buf, rows, l.Compression)
		},
	}
)

// rewriteReaders bounds the inputs fetched and decoded at once.
const rewriteReaders = 4

func rewrite[R any](ctx context.Context, t *Table, inputs []delta.Add, to Partition, layout Layout, target int64, k rowKind[R]) (out Rewritten, err error) {
	if target <= 0 {
		return out, fmt.Errorf("rewrite: target size %d", target)
	}
	store := t.Log.Store()
	// Fetch and decode the inputs concurrently (object store latency and
	// decoding overlap), then fold them in path order.
	perFile := make([][]R, len(inputs))
	errs := make([]error, len(inputs))
	sem := make(chan struct{}, rewriteReaders)
	var wg sync.WaitGroup
	for i, a := range inputs {
		out.BytesIn += a.Size
		key, err := t.Log.DataKey(a.Path)
		if err != nil {
			return out, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			b, err := storage.ReadAll(ctx, store, key)
			if err == nil {
				err = k.read(b, EncodingOf(a), func(batch []R) { perFile[i] = append(perFile[i], batch...) })
			}
			if err != nil {
				errs[i] = fmt.Errorf("read %s: %w", key, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		if errors.Is(err, storage.ErrNotExist) {
			// An input vanished: another commit removed it and vacuum
			// deleted it after its grace, while this rewrite waited (a
			// long job works from a snapshot taken at its start). That
			// is a lost race, not a failure.
			if gone, rerr := t.anyGone(ctx, inputs); rerr == nil && gone {
				return out, fmt.Errorf("%w: an input was removed by another commit: %w", delta.ErrConflict, err)
			}
		}
		return out, err
	}
	var rows []R
	pos := map[string]int{}
	for i := range perFile {
		for j := range perFile[i] {
			r := &perFile[i][j]
			out.RowsIn++
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
	out.RowsOut = int64(len(rows))
	if out.RowsOut == 0 {
		return out, nil
	}
	// (system_id, created_at) order: each output holds a narrow range of
	// systems, and within a system rows are in time order, so readers skip
	// files, row groups and pages by their system_id and created_at bounds.
	sortRows(rows)

	// Outputs: split so each is about target bytes, estimated from the
	// inputs' bytes per row.
	est := out.BytesIn * out.RowsOut / max(out.RowsIn, 1)
	n := max(int((est+target-1)/target), 1)
	per := (len(rows) + n - 1) / n
	defer func() {
		if err != nil {
			Discard(store, out.Files, slog.Default())
			out.Files = nil
		}
	}()
	for i := 0; i < len(rows); i += per {
		f, err := stageRows(ctx, t, to, layout, rows[i:min(i+per, len(rows))], k)
		if err != nil {
			return out, err
		}
		out.Files = append(out.Files, f)
	}
	return out, nil
}

// stageRows writes rows (at least one) as a new data file of partition
// part in layout, not yet committed: the output of a rewrite.
func stageRows[R any](ctx context.Context, t *Table, part Partition, layout Layout, rows []R, k rowKind[R]) (DataFile, error) {
	var buf bytes.Buffer
	if err := k.encode(&buf, rows, layout); err != nil {
		return DataFile{}, err
	}
	f := DataFile{
		Key:        part.Dir(t.Name) + "/" + ulid.Make().String() + ".parquet",
		Partition:  part,
		Size:       int64(buf.Len()),
		Rows:       int64(len(rows)),
		MinCreated: k.created(&rows[0]),
		MaxCreated: k.created(&rows[0]),
		Encoding:   layout.Encoding,
		Strings:    stringStatsOf(rows),
	}
	for i := range rows {
		c := k.created(&rows[i])
		if c.Before(f.MinCreated) {
			f.MinCreated = c
		}
		if c.After(f.MaxCreated) {
			f.MaxCreated = c
		}
	}
	if err := storage.PutClass(ctx, t.Log.Store(), f.Key, bytes.NewReader(buf.Bytes()), f.Size, layout.StorageClass); err != nil {
		return DataFile{}, fmt.Errorf("stage %s: %w", f.Key, err)
	}
	return f, nil
}

// anyGone refreshes the snapshot and reports whether some of inputs are no
// longer live.
func (t *Table) anyGone(ctx context.Context, inputs []delta.Add) (bool, error) {
	snap, err := t.Refresh(ctx)
	if err != nil {
		return false, err
	}
	for _, a := range inputs {
		if _, ok := snap.File(a.Path); !ok {
			return true, nil
		}
	}
	return false, nil
}

// decodeRows decodes a whole Parquet file and hands its rows over in
// batches. Columns the file lacks read as zero values.
func decodeRows[R any](b []byte, fn func([]R)) error {
	// Opened first: NewGenericReader panics on a file it cannot open (a
	// torn or foreign object), OpenFile says so.
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return fmt.Errorf("open parquet (%d bytes): %w", len(b), err)
	}
	r := parquet.NewGenericReader[R](f)
	defer r.Close()
	batch := make([]R, 1024)
	for {
		// Zeroed so the reader allocates fresh slices (embedding, tags):
		// fn keeps rows from earlier batches.
		clear(batch)
		k, err := r.Read(batch)
		if k > 0 {
			fn(batch[:k])
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// ReadFileRows reads a whole data file as rows of type R (columns the
// file lacks read as zero values). For memories, ReadMemories also decodes
// warm and cold files.
func ReadFileRows[R any](ctx context.Context, store storage.Store, key string, fn func([]R)) error {
	b, err := storage.ReadAll(ctx, store, key)
	if err != nil {
		return err
	}
	if err := decodeRows(b, fn); err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	return nil
}

// ReadMemories reads a whole memories data file, whatever its encoding,
// with embeddings as float32 (dequantized from warm and cold files).
func (t *Table) ReadMemories(ctx context.Context, a delta.Add, fn func([]schemas.MemoryRow)) error {
	key, err := t.Log.DataKey(a.Path)
	if err != nil {
		return err
	}
	b, err := storage.ReadAll(ctx, t.Log.Store(), key)
	if err != nil {
		return err
	}
	if err := memoryRows.read(b, EncodingOf(a), fn); err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	return nil
}
