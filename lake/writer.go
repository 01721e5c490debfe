package lake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// RowGroupSize bounds a row group: without a bound parquet-go buffers the
// whole file, and DuckDB parallelises a file's scan by row group.
const RowGroupSize = 16384

// zstdFastest: the text columns lose little at the fastest level. Measured
// here: default level 44k rows/s, fastest 117k rows/s, same file size. The
// embedding column is not compressed at all (its struct tag): zstd saves
// nothing on float32 noise and cost a tenth of the encode time.
var zstdFastest = zstdCodecAt(zstd.SpeedFastest)

// WriterOptions are the Parquet options of every data file the lake writes.
func WriterOptions() []parquet.WriterOption {
	return []parquet.WriterOption{
		parquet.Compression(zstdFastest),
		parquet.MaxRowsPerRowGroup(RowGroupSize),
		// Page min/max of embedding floats and long text prune nothing and
		// cost a tenth of the encode time: neither the column index
		// (SkipPageBounds) nor the page headers (SkipPageStatistics, another
		// tenth: parquet-go computes the bounds again for them) carry them.
		parquet.SkipPageBounds("embedding", "list", "element"),
		parquet.SkipPageBounds("content"),
		parquet.SkipPageStatistics("embedding", "list", "element"),
		parquet.SkipPageStatistics("content"),
		// Pages of 32 KB (parquet-go's default is 256 KB): a search reads
		// the content and vector of each final hit by seeking to its row,
		// which decodes the whole page the row is on; at 256 KB that was
		// half the CPU of a warm search at 1M vectors.
		parquet.PageBufferSize(32 << 10),
		// Data pages v1: the Delta protocol asks writers to use them, as
		// not every engine reads v2 pages.
		parquet.DataPageVersion(1),
		parquet.CreatedBy("akosha", "1", ""),
	}
}

// DataFile is one Parquet file written to the store and not yet (or already)
// named by the log.
type DataFile struct {
	Key        string // store key: <table>/<partition dir>/<ulid>.parquet
	Partition  Partition
	Size       int64
	Rows       int64
	MinCreated time.Time
	MaxCreated time.Time
	Encoding   string       // EncodingFloat32 or EncodingInt8, named in the add's tags
	Strings    *StringStats // min, max and null counts of string columns; nil: none
}

// Add is the file's Delta add action. Paths in the log are relative to the
// table root.
func (f DataFile) Add(table string, dataChange bool) delta.Add {
	a := delta.Add{
		Path:             f.Key[len(table)+1:],
		PartitionValues:  f.Partition.Values(),
		Size:             f.Size,
		ModificationTime: time.Now().UnixMilli(),
		DataChange:       dataChange,
		Stats:            statsJSON(f.Rows, f.MinCreated, f.MaxCreated, f.Strings),
	}
	if f.Encoding != EncodingFloat32 {
		a.Tags = map[string]string{EncodingTag: f.Encoding}
	}
	return a
}

// statsJSON writes Delta file statistics. Delta keeps timestamps at
// millisecond precision, so the minimum is rounded down and the maximum up:
// both must stay true bounds for pruning.
func statsJSON(rows int64, minT, maxT time.Time, strs *StringStats) string {
	type s struct {
		NumRecords int64             `json:"numRecords"`
		MinValues  map[string]string `json:"minValues"`
		MaxValues  map[string]string `json:"maxValues"`
		NullCount  map[string]int64  `json:"nullCount"`
	}
	// Timestamps are recorded to the millisecond, both cut down, as Delta
	// writers do: a reader takes a max as covering the millisecond it
	// names (functions/query's planner adds it).
	const layout = "2006-01-02T15:04:05.000Z07:00"
	lo := minT.UTC().Truncate(time.Millisecond)
	hi := maxT.UTC().Truncate(time.Millisecond)
	st := s{
		NumRecords: rows,
		MinValues:  map[string]string{"created_at": lo.Format(layout)},
		MaxValues:  map[string]string{"created_at": hi.Format(layout)},
		NullCount:  map[string]int64{"created_at": 0},
	}
	if strs != nil {
		for col, v := range strs.Min {
			st.MinValues[col] = v
		}
		for col, v := range strs.Max {
			st.MaxValues[col] = v
		}
		for col, n := range strs.Nulls {
			st.NullCount[col] = n
		}
	}
	b, _ := json.Marshal(st)
	return string(b)
}

// Staged is a set of data files written for one table and not yet committed.
// Until Commit puts them in the log they are invisible: a crash here leaves
// only orphans, which vacuum removes.
type Staged struct {
	Table string
	Files []DataFile
	Rows  int
}

// part is the rows of one future data file.
type part[Row any] struct {
	p        Partition
	rows     []Row
	min, max time.Time
}

// group splits records into partitions, keeping each partition's record
// order. Partitions are counted first so each row slice is allocated once.
func group[R any, Row any](recs []R, partOf func(*R) Partition, rowOf func(*R) Row, created func(*R) time.Time) []*part[Row] {
	parts := make([]Partition, len(recs))
	counts := map[Partition]int{}
	for i := range recs {
		parts[i] = partOf(&recs[i])
		counts[parts[i]]++
	}
	byPart := make(map[Partition]*part[Row], len(counts))
	order := make([]*part[Row], 0, len(counts))
	for i := range recs {
		r := &recs[i]
		p := parts[i]
		g := byPart[p]
		if g == nil {
			g = &part[Row]{p: p, rows: make([]Row, 0, counts[p])}
			byPart[p] = g
			order = append(order, g)
		}
		t := created(r)
		if len(g.rows) == 0 || t.Before(g.min) {
			g.min = t
		}
		if len(g.rows) == 0 || t.After(g.max) {
			g.max = t
		}
		g.rows = append(g.rows, rowOf(r))
	}
	sort.Slice(order, func(i, j int) bool { return order[i].p.String() < order[j].p.String() })
	for _, g := range order {
		sortRows(g.rows)
	}
	return order
}

// systemSorted is a row that knows its place in a data file: files are
// sorted by (system_id, created_at), so one system's rows are contiguous,
// found through row-group and page statistics without reading the rest.
type systemSorted interface {
	SortKey() (systemID string, createdAt time.Time)
}

// sortRows sorts rows by (system_id, created_at), stably, so versions of a
// record keep their arrival order. Keys are read once and an index
// permutation is sorted, so the (large) rows move once.
func sortRows[Row any](rows []Row) {
	if len(rows) < 2 {
		return
	}
	if _, ok := any(&rows[0]).(systemSorted); !ok {
		return
	}
	type key struct {
		sys string
		t   time.Time
		i   int
	}
	keys := make([]key, len(rows))
	sorted := true
	for i := range rows {
		s, t := any(&rows[i]).(systemSorted).SortKey()
		keys[i] = key{s, t, i}
		if i > 0 && (s < keys[i-1].sys || (s == keys[i-1].sys && t.Before(keys[i-1].t))) {
			sorted = false
		}
	}
	if sorted {
		return
	}
	slices.SortStableFunc(keys, func(a, b key) int {
		if c := strings.Compare(a.sys, b.sys); c != 0 {
			return c
		}
		return a.t.Compare(b.t)
	})
	out := make([]Row, len(rows))
	for j, k := range keys {
		out[j] = rows[k.i]
	}
	copy(rows, out)
}

// writerPools reuse Parquet writers (one pool per row type): a writer's
// column buffers are most of the cost of a small file.
var writerPools sync.Map // reflect.Type -> *sync.Pool

func writerPool[Row any](level zstd.Level) *sync.Pool {
	type poolKey struct {
		t     reflect.Type
		level zstd.Level
	}
	k := poolKey{reflect.TypeFor[Row](), level}
	if p, ok := writerPools.Load(k); ok {
		return p.(*sync.Pool)
	}
	opts := WriterOptions()
	if level != zstd.SpeedFastest {
		opts = append(opts, parquet.Compression(zstdCodecAt(level)))
	}
	p, _ := writerPools.LoadOrStore(k, &sync.Pool{New: func() any {
		return parquet.NewGenericWriter[Row](io.Discard, opts...)
	}})
	return p.(*sync.Pool)
}

// EncodeParquet writes rows as one Parquet file with the lake's options.
func EncodeParquet[Row any](buf *bytes.Buffer, rows []Row) error {
	return EncodeParquetLevel(buf, rows, zstd.SpeedFastest)
}

// EncodeParquetLevel is EncodeParquet with another zstd level (a tier's
// Layout.Compression).
func EncodeParquetLevel[Row any](buf *bytes.Buffer, rows []Row, level zstd.Level) error {
	pool := writerPool[Row](level)
	w := pool.Get().(*parquet.GenericWriter[Row])
	w.Reset(buf)
	defer pool.Put(w)
	for i := 0; i < len(rows); i += RowGroupSize {
		if _, err := w.Write(rows[i:min(i+RowGroupSize, len(rows))]); err != nil {
			return fmt.Errorf("write rows: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("close parquet writer: %w", err)
	}
	return nil
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// stage encodes and uploads one file per partition, in parallel.
func stage[Row any](ctx context.Context, store storage.Store, table string, parts []*part[Row]) (*Staged, error) {
	st := &Staged{Table: table, Files: make([]DataFile, len(parts))}
	workers := min(len(parts), runtime.GOMAXPROCS(0)*2)
	next := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f, err := stageOne(ctx, store, table, parts[i])
				if err != nil {
					errs <- err
					return
				}
				st.Files[i] = f
			}
		}()
	}
	var err error
feed:
	for i := range parts {
		select {
		case next <- i:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	if err == nil {
		err = <-errs
	}
	if err != nil {
		st.discard(store)
		return nil, fmt.Errorf("stage %s: %w", table, err)
	}
	for _, p := range parts {
		st.Rows += len(p.rows)
	}
	return st, nil
}

func stageOne[Row any](ctx context.Context, store storage.Store, table string, p *part[Row]) (DataFile, error) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := EncodeParquet(buf, p.rows); err != nil {
		return DataFile{}, fmt.Errorf("partition %s: %w", p.p, err)
	}
	f := DataFile{
		Key:        p.p.Dir(table) + "/" + ulid.Make().String() + ".parquet",
		Partition:  p.p,
		Size:       int64(buf.Len()),
		Rows:       int64(len(p.rows)),
		MinCreated: p.min,
		MaxCreated: p.max,
		Strings:    stringStatsOf(p.rows),
	}
	if err := store.Put(ctx, f.Key, bytes.NewReader(buf.Bytes()), f.Size); err != nil {
		return DataFile{}, err
	}
	return f, nil
}

// discard deletes staged files that will never be committed. It runs on its
// own deadline: the caller's context may be what failed.
func (st *Staged) discard(store storage.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, f := range st.Files {
		if f.Key == "" {
			continue
		}
		if err := store.Delete(ctx, f.Key); err != nil {
			slog.Warn("discard staged file", "key", f.Key, "err", err)
		}
	}
}

// StageMemories writes memories as data files, one per partition.
func StageMemories(ctx context.Context, store storage.Store, recs []schemas.Memory) (*Staged, error) {
	now := time.Now().UTC()
	parts := group(recs,
		func(m *schemas.Memory) Partition { return HotPartition(m.CreatedAt) },
		func(m *schemas.Memory) schemas.MemoryRow { row := m.Row(); row.IngestedAt = now; return row },
		func(m *schemas.Memory) time.Time { return m.CreatedAt })
	return stage(ctx, store, schemas.TableMemories, parts)
}

// StageEntities writes entities as data files, one per partition.
func StageEntities(ctx context.Context, store storage.Store, recs []schemas.Entity) (*Staged, error) {
	now := time.Now().UTC()
	parts := group(recs,
		func(e *schemas.Entity) Partition { return HotPartition(e.CreatedAt) },
		func(e *schemas.Entity) schemas.EntityRow { row := e.Row(); row.IngestedAt = now; return row },
		func(e *schemas.Entity) time.Time { return e.CreatedAt })
	return stage(ctx, store, schemas.TableEntities, parts)
}

// StageRelations writes relations as data files, one per partition.
func StageRelations(ctx context.Context, store storage.Store, recs []schemas.Relation) (*Staged, error) {
	now := time.Now().UTC()
	parts := group(recs,
		func(r *schemas.Relation) Partition { return HotPartition(r.CreatedAt) },
		func(r *schemas.Relation) schemas.RelationRow { row := r.Row(); row.IngestedAt = now; return row },
		func(r *schemas.Relation) time.Time { return r.CreatedAt })
	return stage(ctx, store, schemas.TableRelations, parts)
}

// Commit names the staged files in the table's log, together with txns
// (idempotency keys), as one version. When the log definitely refused the
// commit the files are deleted; when the outcome is unknown they are left for
// vacuum, because deleting a file a landed commit names would lose data.
func (l *Lake) Commit(ctx context.Context, st *Staged, txns ...delta.Txn) (*delta.CommitResult, error) {
	t, err := l.Table(st.Table)
	if err != nil {
		return nil, err
	}
	actions := make([]delta.Action, 0, len(st.Files)+len(txns))
	for i := range txns {
		actions = append(actions, delta.Action{Txn: &txns[i]})
	}
	for _, f := range st.Files {
		a := f.Add(st.Table, true)
		actions = append(actions, delta.Action{Add: &a})
	}
	res, err := t.Commit(ctx, actions)
	if err != nil {
		if errors.Is(err, delta.ErrTxnCommitted) || errors.Is(err, delta.ErrConflict) || errors.Is(err, delta.ErrUnsupported) {
			st.discard(l.store)
		}
		return nil, err
	}
	return res, nil
}

// AppendMemories stages and commits memories as one version.
func (l *Lake) AppendMemories(ctx context.Context, recs []schemas.Memory, txns ...delta.Txn) (*delta.CommitResult, error) {
	st, err := StageMemories(ctx, l.store, recs)
	if err != nil {
		return nil, err
	}
	return l.Commit(ctx, st, txns...)
}

// AppendEntities stages and commits entities as one version.
func (l *Lake) AppendEntities(ctx context.Context, recs []schemas.Entity, txns ...delta.Txn) (*delta.CommitResult, error) {
	st, err := StageEntities(ctx, l.store, recs)
	if err != nil {
		return nil, err
	}
	return l.Commit(ctx, st, txns...)
}

// AppendRelations stages and commits relations as one version.
func (l *Lake) AppendRelations(ctx context.Context, recs []schemas.Relation, txns ...delta.Txn) (*delta.CommitResult, error) {
	st, err := StageRelations(ctx, l.store, recs)
	if err != nil {
		return nil, err
	}
	return l.Commit(ctx, st, txns...)
}
