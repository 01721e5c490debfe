// Package indexer is the index job (`akosha job index`): it builds an HNSW
// index (lake/hnsw) for each partition (tier/system_id/day) of the memories
// table that lacks a current one, and stores it under the table's
// _indexes/ folder, naming the data files it covers (see lake/vecindex for
// the layout and what "current" means).
//
// The job is idempotent: a partition whose newest index covers exactly its
// live files is left alone, so a second run builds nothing. It is resumable
// for the same reason: a crash leaves at most orphaned .hnsw/.rows objects
// (the manifest, written last, is what makes an index exist), and the next
// run rebuilds the partitions that still lack an index. Indexes that stopped
// being current are never deleted here (a query may be reading one); vacuum
// removes them.
//
// Partitions holding fewer than Options.MinVectors vectors get no index: an
// exact SIMD scan of them is as fast as a graph search. Their row count
// from the Delta statistics is checked first, so small partitions cost no
// read at all.
//
// Memory is bounded by one partition: its vectors, decoded from its data
// files (whole-object GETs), plus the graph being built.
//
// Two concurrent runs do not corrupt anything (every object has a fresh ULID
// and manifests are put-if-absent), but may build the same partition twice;
// there is no lease yet.
package indexer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"golang.org/x/sync/errgroup"

	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/hnsw"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/lake/vecindex"
	"github.com/akosha/akosha/schemas"
)

// DefaultMinVectors is the smallest partition (in vectors) that gets an index.
const DefaultMinVectors = 1000

// Options tune a run. The zero value means the defaults.
type Options struct {
	// MinVectors: partitions with fewer vectors get no index (default
	// DefaultMinVectors; negative: index every partition with a vector).
	MinVectors int
	// M and EfConstruction of the graphs (defaults: hnsw's, 16 and 200).
	M, EfConstruction int
	// Workers inserting in parallel (default GOMAXPROCS).
	Workers int
	// Systems limits the run to these system ids (nil: all).
	Systems []string
	// DryRun plans without building: Summary.Built counts what would be.
	DryRun bool
	// Progress, when set, is called for each partition (from one goroutine).
	Progress func(Event)
}

// Event phases.
const (
	PhasePlan    = "plan"    // Total partitions to look at
	PhaseCurrent = "current" // already indexed
	PhaseSmall   = "small"   // too few vectors: left to exact scans
	PhaseBuilt   = "built"   // indexed now (or would be, in a dry run)
	PhaseFailed  = "failed"
)

// Event reports progress.
type Event struct {
	Phase     string
	Partition lake.Partition
	Index     int // 1-based partition number
	Total     int
	Vectors   int
	Key       string // manifest key of a built index
	Elapsed   time.Duration
	Err       error
}

// Summary is what a run did.
type Summary struct {
	Partitions int // partitions of the table looked at
	Current    int // already had a current index
	Small      int // below MinVectors
	Built      int // built now
	Failed     int
	Vectors    int64 // vectors indexed now
	Failures   []Failure
}

// Failure is one partition that could not be indexed.
type Failure struct {
	Partition lake.Partition
	Err       error
}

// ErrPartitionsFailed is returned (wrapped) when some partitions failed and
// the others were done.
var ErrPartitionsFailed = fmt.Errorf("some partitions failed")

// Run indexes the memories table of l.
func Run(ctx context.Context, l *lake.Lake, opts Options) (Summary, error) {
	var sum Summary
	if opts.MinVectors == 0 {
		opts.MinVectors = DefaultMinVectors
	}
	t, err := l.Table(schemas.TableMemories)
	if err != nil {
		return sum, err
	}
	snap, err := t.Refresh(ctx)
	if err != nil {
		return sum, err
	}
	var systems map[string]bool
	if opts.Systems != nil {
		systems = map[string]bool{}
		for _, s := range opts.Systems {
			systems[s] = true
		}
	}
	parts := map[lake.Partition][]delta.Add{}
	for a := range snap.AllFiles() {
		p, err := lake.PartitionOf(a.PartitionValues)
		if err != nil {
			return sum, fmt.Errorf("file %s: %w", a.Path, err)
		}
		if systems != nil && !systems[p.SystemID] {
			continue
		}
		parts[p] = append(parts[p], a)
	}
	order := make([]lake.Partition, 0, len(parts))
	for p := range parts {
		order = append(order, p)
	}
	sort.Slice(order, func(i, j int) bool { return order[i].String() < order[j].String() })
	sum.Partitions = len(order)

	existing, err := manifestsByPartition(ctx, l.Store(), parts)
	if err != nil {
		return sum, err
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(Event) {}
	}
	progress(Event{Phase: PhasePlan, Total: len(order)})
	for i, p := range order {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		ev := Event{Partition: p, Index: i + 1, Total: len(order)}
		files := parts[p]
		live := map[string]int64{}
		var upper int64
		for _, a := range files {
			live[a.Path] = a.Size
			if st, err := a.ParsedStats(); err == nil && st.NumRecords >= 0 && upper >= 0 {
				upper += st.NumRecords
			} else {
				upper = -1 // unknown: read to count
			}
		}
		if slices.ContainsFunc(existing[p], func(m *vecindex.Manifest) bool { return m.Covers(live) }) {
			sum.Current++
			ev.Phase = PhaseCurrent
			progress(ev)
			continue
		}
		if upper >= 0 && upper < int64(opts.MinVectors) {
			sum.Small++
			ev.Phase, ev.Vectors = PhaseSmall, int(upper)
			progress(ev)
			continue
		}
		start := time.Now()
		key, n, err := buildPartition(ctx, l.Store(), p, files, opts)
		ev.Vectors, ev.Key, ev.Elapsed = n, key, time.Since(start)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return sum, ctx.Err()
			}
			sum.Failed++
			sum.Failures = append(sum.Failures, Failure{Partition: p, Err: err})
			ev.Phase, ev.Err = PhaseFailed, err
		case key == "" && !opts.DryRun:
			sum.Small++
			ev.Phase = PhaseSmall
		default:
			sum.Built++
			sum.Vectors += int64(n)
			ev.Phase = PhaseBuilt
		}
		progress(ev)
	}
	if sum.Failed > 0 {
		return sum, fmt.Errorf("%w: %d of %d", ErrPartitionsFailed, sum.Failed, sum.Partitions)
	}
	return sum, nil
}

// manifestsByPartition reads the manifests of the partitions in parts.
func manifestsByPartition(ctx context.Context, store storage.Store, parts map[lake.Partition][]delta.Add) (map[lake.Partition][]*vecindex.Manifest, error) {
	objs, err := vecindex.ListManifests(ctx, store, schemas.TableMemories)
	if err != nil {
		return nil, err
	}
	out := map[lake.Partition][]*vecindex.Manifest{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, o := range objs {
		p, ok := vecindex.ParseKey(schemas.TableMemories, o.Key)
		if !ok || parts[p] == nil {
			continue
		}
		g.Go(func() error {
			m, err := vecindex.ReadManifest(gctx, store, o.Key)
			if err != nil {
				// An unreadable manifest makes its partition look unindexed:
				// the run builds a fresh one instead of failing.
				return nil
			}
			mu.Lock()
			out[p] = append(out[p], m)
			mu.Unlock()
			return nil
		})
	}
	return out, g.Wait()
}

// buildPartition builds and stores one partition's index. It returns the
// manifest key ("" when the partition has fewer than MinVectors vectors)
// and the number of vectors.
func buildPartition(ctx context.Context, store storage.Store, p lake.Partition, files []delta.Add, opts Options) (string, int, error) {
	files = slices.Clone(files)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	datas := make([]*vecindex.FileData, len(files))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, a := range files {
		g.Go(func() error {
			key := schemas.TableMemories + "/" + a.Path
			b, err := storage.ReadAll(gctx, store, key)
			if err != nil {
				return err
			}
			d, err := vecindex.ReadFile(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			datas[i] = d
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return "", 0, err
	}
	rows, flat := latest(datas)
	n := rows.Len()
	if n < opts.MinVectors || n == 0 || opts.DryRun {
		return "", n, nil
	}
	ix, err := hnsw.Build(ctx, flat, vecindex.Dim, hnsw.Config{M: opts.M, EfConstruction: opts.EfConstruction, Workers: opts.Workers})
	if err != nil {
		return "", n, err
	}
	defer ix.Close()
	id := ulid.Make().String()
	keys := vecindex.KeysFor(schemas.TableMemories, p, id)
	var ib bytes.Buffer
	ib.Grow(int(ix.Size()))
	if _, err := ix.WriteTo(&ib); err != nil {
		return "", n, err
	}
	if err := store.Put(ctx, keys.Index, bytes.NewReader(ib.Bytes()), int64(ib.Len())); err != nil {
		return "", n, err
	}
	rb, err := rows.Encode()
	if err != nil {
		return "", n, err
	}
	if err := store.Put(ctx, keys.Rows, bytes.NewReader(rb), int64(len(rb))); err != nil {
		return "", n, err
	}
	cfg := ix.Config()
	m := vecindex.Manifest{
		Version: vecindex.FormatVersion, Table: schemas.TableMemories,
		Tier: p.Tier, SystemID: p.SystemID, Day: p.Day,
		Vectors: n, Dim: vecindex.Dim, M: cfg.M, EfConstruction: cfg.EfConstruction,
		Index:   vecindex.ObjRef{Key: keys.Index, Size: int64(ib.Len())},
		Rows:    vecindex.ObjRef{Key: keys.Rows, Size: int64(len(rb))},
		BuiltAt: time.Now().UTC(),
	}
	for _, a := range files {
		m.Files = append(m.Files, vecindex.FileRef{Path: a.Path, Size: a.Size})
	}
	mb, err := jsonMarshal(m)
	if err != nil {
		return "", n, err
	}
	if err := store.PutIfAbsent(ctx, keys.Manifest, bytes.NewReader(mb), int64(len(mb))); err != nil {
		return "", n, err
	}
	return keys.Manifest, n, nil
}

// latest keeps, per id, the latest version among the partition's rows
// (greatest ingested_at; ties: the later file, then the later row) and
// returns those with a vector, in file and row order, with their vectors.
func latest(datas []*vecindex.FileData) (*vecindex.Rows, []float32) {
	type ver struct {
		file, row int
		ingested  int64
	}
	best := map[string]ver{}
	for fi, d := range datas {
		for r, id := range d.ID {
			if b, ok := best[id]; !ok || d.Ingested[r] >= b.ingested {
				best[id] = ver{fi, r, d.Ingested[r]}
			}
		}
	}
	rows := &vecindex.Rows{Kinds: []string{}, Projects: []string{""}}
	kinds := map[string]uint8{}
	projects := map[string]uint32{"": 0}
	var flat []float32
	for fi, d := range datas {
		for v, r32 := range d.VecRow {
			r := int(r32)
			if b := best[d.ID[r]]; b.file != fi || b.row != r {
				continue
			}
			k, ok := kinds[d.Kind[r]]
			if !ok {
				k = uint8(len(rows.Kinds))
				kinds[d.Kind[r]] = k
				rows.Kinds = append(rows.Kinds, d.Kind[r])
			}
			pj, ok := projects[d.Project[r]]
			if !ok {
				pj = uint32(len(rows.Projects))
				projects[d.Project[r]] = pj
				rows.Projects = append(rows.Projects, d.Project[r])
			}
			rows.File = append(rows.File, uint32(fi))
			rows.Pos = append(rows.Pos, uint32(r))
			rows.ID = append(rows.ID, d.ID[r])
			rows.Kind = append(rows.Kind, k)
			rows.Project = append(rows.Project, pj)
			rows.Created = append(rows.Created, d.Created[r])
			rows.Ingested = append(rows.Ingested, d.Ingested[r])
			flat = append(flat, d.Vecs[v*vecindex.Dim:(v+1)*vecindex.Dim]...)
		}
	}
	return rows, flat
}

func jsonMarshal(m vecindex.Manifest) ([]byte, error) { return json.MarshalIndent(m, "", " ") }
