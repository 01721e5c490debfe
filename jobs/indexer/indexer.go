// Package indexer is the index job (`akosha job index`): it keeps one HNSW
// index (lake/hnsw) per tier of the memories table, across days and
// systems, stored under the table's _indexes/ folder and naming the data
// files it covers (see lake/vecindex for the layout and when an index is
// usable). Never one per system: a search's cost must follow the vectors it
// searches, not the number of systems in the fleet.
//
// # When a tier gets a new index
//
// The live files of the memories table are grouped by tier.
// For each group the job takes the index a search would use (the newest
// usable one, vecindex.Newest) and builds a new one over all the group's
// live files when
//
//   - there is none and the group may hold MinVectors vectors or more, or
//   - the live files it does not cover hold more than
//     max(MinVectors, RebuildUncovered x its vectors) rows (new files are
//     scanned exactly by searches, which is cheap while they are few), or
//   - more than RebuildDead of its vectors are in files that are no longer
//     live (compacted, aged to another tier): searches walk past those nodes,
//     and the files that replaced them are scanned exactly, or
//   - it was built before indexes named every covered row's key
//     (vecindex.Manifest.RowKeys), once.
//
// Otherwise the group is left alone ("current"). Row counts come from the
// Delta statistics (an upper bound of the vectors: rows without an
// embedding count too), so deciding costs no read; a file without
// statistics counts as over any threshold.
//
// The job is idempotent: a new index covers every live file of its group,
// so right after it nothing is uncovered or dead and a second run builds
// nothing. It is resumable for the same reason: a crash leaves at most
// orphaned .hnsw/.rows objects (the manifest, written last, is what makes an
// index exist), and the next run rebuilds the groups that still need it.
// Indexes are never deleted here (a query may be reading one); vacuum
// removes the unusable and the superseded ones after its grace.
//
// Memory is bounded by one tier: its vectors, decoded from its data files
// (whole-object GETs, four at a time), plus the graph being built.
//
// `akosha job index` holds a lease, so two runs do not overlap; if two did,
// nothing is corrupted (every object has a fresh ULID and manifests are
// put-if-absent), a group may just be built twice.
package indexer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
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

// DefaultMinVectors is the smallest (tier, system), in vectors, that gets an
// index, and the least number of unindexed rows that makes a rebuild.
const DefaultMinVectors = 1000

// The rebuild rule's fractions (see the package comment).
const (
	// RebuildUncovered: rebuild when the live files an index does not
	// cover hold more rows than this fraction of its vectors (and more
	// than MinVectors).
	RebuildUncovered = 0.10
	// RebuildDead: rebuild when more than this fraction of an index's
	// vectors are in files that are no longer live. Below
	// vecindex.MaxDeadFraction, so the old index stays usable until the
	// new one is built.
	RebuildDead = 0.20
)

// Options tune a run. The zero value means the defaults.
type Options struct {
	// MinVectors: a tier with fewer vectors gets no index, and
	// fewer unindexed rows than this never cause a rebuild (default
	// DefaultMinVectors; negative: index every group with a vector).
	MinVectors int
	// M and EfConstruction of the graphs (defaults: hnsw's, 16 and 200).
	M, EfConstruction int
	// Workers inserting in parallel (default GOMAXPROCS).
	Workers int
	// DryRun plans without building: Summary.Built counts what would be.
	DryRun bool
	// Progress, when set, is called for each group (from one goroutine).
	Progress func(Event)
}

// Event phases.
const (
	PhasePlan    = "plan"    // Total groups to look at
	PhaseCurrent = "current" // its index is good enough
	PhaseSmall   = "small"   // too few vectors: left to exact scans
	PhaseBuilt   = "built"   // indexed now (or would be, in a dry run)
	PhaseFailed  = "failed"
)

// Reasons a group is (re)built (Event.Reason).
const (
	ReasonNew       = "new"       // no usable index
	ReasonUncovered = "uncovered" // too many rows in files the index does not cover
	ReasonDead      = "dead"      // too many of the index's vectors in files no longer live
	ReasonRowKeys   = "row_keys"  // built before indexes named every covered row's key
)

// Event reports progress.
type Event struct {
	Phase string
	// Partition is the tier; its Day is "".
	Partition lake.Partition
	Index     int // 1-based group number
	Total     int
	Vectors   int
	Reason    string // why a group is built (PhaseBuilt, PhaseFailed)
	Key       string // manifest key of a built index
	Elapsed   time.Duration
	Err       error
}

// Summary is what a run did. "Partitions" are tiers: the unit of indexing.
type Summary struct {
	Partitions int // tiers of the table looked at
	Current    int // had an index good enough
	Small      int // below MinVectors
	Built      int // built now (new and rebuilt)
	Rebuilt    int // of Built, groups that had a usable index
	Failed     int
	Vectors    int64 // vectors indexed now
	Failures   []Failure
}

// Failure is one group that could not be indexed.
type Failure struct {
	Partition lake.Partition
	Err       error
}

// ErrPartitionsFailed is returned (wrapped) when some groups failed and the
// others were done.
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
		return sum, fmt.Errorf("index: read the memories log: %w", err)
	}
	groups := map[lake.Partition][]delta.Add{}
	for a := range snap.AllFiles() {
		p, err := lake.PartitionOf(a.PartitionValues)
		if err != nil {
			return sum, fmt.Errorf("file %s: %w", a.Path, err)
		}
		g := vecindex.Group(p)
		groups[g] = append(groups[g], a)
	}
	order := make([]lake.Partition, 0, len(groups))
	for g := range groups {
		order = append(order, g)
	}
	sort.Slice(order, func(i, j int) bool { return order[i].Tier < order[j].Tier })
	sum.Partitions = len(order)

	existing, err := manifestsByGroup(ctx, l.Store(), groups)
	if err != nil {
		return sum, err
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(Event) {}
	}
	progress(Event{Phase: PhasePlan, Total: len(order)})
	for i, g := range order {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		ev := Event{Partition: g, Index: i + 1, Total: len(order)}
		files := groups[g]
		reason, upper := plan(files, existing[g], opts.MinVectors)
		if reason == "" {
			sum.Current++
			ev.Phase = PhaseCurrent
			progress(ev)
			continue
		}
		if reason == ReasonNew && upper >= 0 && upper < int64(opts.MinVectors) {
			sum.Small++
			ev.Phase, ev.Vectors = PhaseSmall, int(upper)
			progress(ev)
			continue
		}
		ev.Reason = reason
		start := time.Now()
		key, n, err := buildGroup(ctx, l.Store(), g, files, opts)
		ev.Vectors, ev.Key, ev.Elapsed = n, key, time.Since(start)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return sum, ctx.Err()
			}
			sum.Failed++
			sum.Failures = append(sum.Failures, Failure{Partition: g, Err: err})
			ev.Phase, ev.Err = PhaseFailed, err
		case key == "" && !opts.DryRun:
			// Fewer vectors than MinVectors once read (rows without an
			// embedding, superseded versions). A usable index, if any,
			// stays in use until it is too dead.
			sum.Small++
			ev.Phase = PhaseSmall
		default:
			sum.Built++
			if reason != ReasonNew {
				sum.Rebuilt++
			}
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

// plan applies the rebuild rule to one group's live files and its
// existing indexes: the reason to build ("" when its index is good enough)
// and the group's row count (an upper bound of its vectors; -1 when some
// file has no statistics).
func plan(files []delta.Add, existing []*vecindex.Manifest, minVectors int) (reason string, upper int64) {
	live := make(map[string]int64, len(files))
	rows := make(map[string]int64, len(files))
	for _, a := range files {
		live[a.Path] = a.Size
		n := int64(-1)
		if st, err := a.ParsedStats(); err == nil && st.NumRecords >= 0 {
			n = st.NumRecords
		}
		rows[a.Path] = n
		if upper >= 0 && n >= 0 {
			upper += n
		} else {
			upper = -1 // unknown: read to count
		}
	}
	best := vecindex.Newest(existing, live)
	if best == nil {
		return ReasonNew, upper
	}
	covered := make(map[string]bool, len(best.Files))
	for _, f := range best.Files {
		covered[f.Path] = true
	}
	var uncovered int64
	for path, n := range rows {
		if covered[path] {
			continue
		}
		if n < 0 {
			uncovered = math.MaxInt64 // no statistics: assume the worst
			break
		}
		uncovered += n
	}
	if float64(uncovered) > max(float64(minVectors), RebuildUncovered*float64(best.Vectors)) {
		return ReasonUncovered, upper
	}
	if best.DeadFraction(live) > RebuildDead {
		return ReasonDead, upper
	}
	// Without every row's key, a cold reader reads each covered file's
	// id column before it can answer (vecindex, "Record keys"): one
	// rebuild saves every cold search after it.
	if !best.RowKeys {
		return ReasonRowKeys, upper
	}
	return "", upper
}

// manifestsByGroup reads the current-format manifests of the groups in
// groups. Keys of older layouts are skipped without a read.
func manifestsByGroup(ctx context.Context, store storage.Store, groups map[lake.Partition][]delta.Add) (map[lake.Partition][]*vecindex.Manifest, error) {
	objs, err := vecindex.ListManifests(ctx, store, schemas.TableMemories)
	if err != nil {
		return nil, err
	}
	out := map[lake.Partition][]*vecindex.Manifest{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, o := range objs {
		p, old, ok := vecindex.ParseKey(schemas.TableMemories, o.Key)
		if !ok || old || groups[p] == nil {
			continue
		}
		g.Go(func() error {
			m, err := vecindex.ReadManifest(gctx, store, o.Key)
			if err != nil {
				if gctx.Err() != nil {
					return fmt.Errorf("read index manifest %s: %w", o.Key, err)
				}
				// An unreadable manifest makes its group look unindexed:
				// the run builds a fresh one instead of failing.
				return nil
			}
			if !m.Current() || m.Partition() != p {
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

// buildGroup builds and stores the index of one tier over files,
// its live files. It returns the manifest key ("" when the files hold fewer
// than MinVectors vectors, or in a dry run) and the number of vectors.
func buildGroup(ctx context.Context, store storage.Store, p lake.Partition, files []delta.Add, opts Options) (string, int, error) {
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
				return fmt.Errorf("read %s: %w", key, err)
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
	datas = nil // the vectors live on in flat only
	n := rows.Len()
	if n < opts.MinVectors || n == 0 || opts.DryRun {
		return "", n, nil
	}
	ix, err := hnsw.Build(ctx, flat, vecindex.Dim, hnsw.Config{M: opts.M, EfConstruction: opts.EfConstruction, Workers: opts.Workers})
	if err != nil {
		return "", n, fmt.Errorf("build the graph of %d vectors: %w", n, err)
	}
	defer ix.Close()
	id := ulid.Make().String()
	keys := vecindex.KeysFor(schemas.TableMemories, p, id)
	// The int8 form: a third of the bytes for a cold reader to fetch. The
	// graph is the float32 build's; readers re-score their final hits from
	// the data files.
	var ib bytes.Buffer
	ib.Grow(int(ix.Int8Size()))
	if _, err := ix.WriteInt8To(&ib); err != nil {
		return "", n, fmt.Errorf("serialize the graph: %w", err)
	}
	if err := store.Put(ctx, keys.Index, bytes.NewReader(ib.Bytes()), int64(ib.Len())); err != nil {
		return "", n, fmt.Errorf("write %s: %w", keys.Index, err)
	}
	rb, err := rows.Encode()
	if err != nil {
		return "", n, fmt.Errorf("encode the index rows: %w", err)
	}
	if err := store.Put(ctx, keys.Rows, bytes.NewReader(rb), int64(len(rb))); err != nil {
		return "", n, fmt.Errorf("write %s: %w", keys.Rows, err)
	}
	cfg := ix.Config()
	m := vecindex.Manifest{
		Version: vecindex.FormatVersion, Table: schemas.TableMemories,
		Tier:    p.Tier,
		Vectors: n, Dim: vecindex.Dim, M: cfg.M, EfConstruction: cfg.EfConstruction,
		Index:   vecindex.ObjRef{Key: keys.Index, Size: int64(ib.Len())},
		Rows:    vecindex.ObjRef{Key: keys.Rows, Size: int64(len(rb))},
		BuiltAt: time.Now().UTC(),
		RowKeys: true,
	}
	// Per-file vector counts let readers weigh dead files by what they
	// held (vecindex.Manifest.DeadFraction).
	perFile, err := rows.PerFile(len(files))
	if err != nil {
		return "", n, err
	}
	for i, a := range files {
		m.Files = append(m.Files, vecindex.FileRef{Path: a.Path, Size: a.Size, Vectors: perFile[i]})
	}
	mb, err := jsonMarshal(m)
	if err != nil {
		return "", n, err
	}
	if err := store.PutIfAbsent(ctx, keys.Manifest, bytes.NewReader(mb), int64(len(mb))); err != nil {
		return "", n, fmt.Errorf("write %s: %w", keys.Manifest, err)
	}
	return keys.Manifest, n, nil
}

// latest keeps, per (system, id), the latest version among the group's rows
// (greatest ingested_at; ties: the later file, then the later row) and
// returns those with a vector, in file and row order, with their vectors.
// Every other row is named in the rows' OtherFile, OtherSystem and OtherID,
// so that the index knows every covered row's key
// (vecindex.Manifest.RowKeys).
func latest(datas []*vecindex.FileData) (*vecindex.Rows, []float32) {
	type ver struct {
		file, row int
		ingested  int64
	}
	type key struct{ system, id string }
	best := map[key]ver{}
	for fi, d := range datas {
		for r, id := range d.ID {
			k := key{d.System[r], id}
			if b, ok := best[k]; !ok || d.Ingested[r] >= b.ingested {
				best[k] = ver{fi, r, d.Ingested[r]}
			}
		}
	}
	rows := &vecindex.Rows{Systems: []string{}, Kinds: []string{}, Projects: []string{""}}
	systems := map[string]uint32{}
	system := func(s string) uint32 {
		i, ok := systems[s]
		if !ok {
			i = uint32(len(rows.Systems))
			systems[s] = i
			rows.Systems = append(rows.Systems, s)
		}
		return i
	}
	kinds := map[string]uint8{}
	projects := map[string]uint32{"": 0}
	var flat []float32
	for fi, d := range datas {
		node := make([]bool, d.Rows())
		for v, r32 := range d.VecRow {
			r := int(r32)
			if b := best[key{d.System[r], d.ID[r]}]; b.file != fi || b.row != r {
				continue
			}
			node[r] = true
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
			rows.System = append(rows.System, system(d.System[r]))
			rows.ID = append(rows.ID, d.ID[r])
			rows.Kind = append(rows.Kind, k)
			rows.Project = append(rows.Project, pj)
			rows.Created = append(rows.Created, d.Created[r])
			rows.Ingested = append(rows.Ingested, d.Ingested[r])
			flat = append(flat, d.Vecs[v*vecindex.Dim:(v+1)*vecindex.Dim]...)
		}
		for r, id := range d.ID {
			if !node[r] {
				rows.OtherFile = append(rows.OtherFile, uint32(fi))
				rows.OtherSystem = append(rows.OtherSystem, system(d.System[r]))
				rows.OtherID = append(rows.OtherID, id)
			}
		}
	}
	return rows, flat
}

func jsonMarshal(m vecindex.Manifest) ([]byte, error) { return json.MarshalIndent(m, "", " ") }
