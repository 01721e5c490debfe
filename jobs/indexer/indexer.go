// Package indexer is the index job (`akosha job index`): it keeps the HNSW
// segments (lake/hnsw, lake/vecindex) of each tier of the memories table,
// across days and systems, stored under the table's _indexes/ folder, each
// naming the data files it covers. Never one per system: a search's cost
// must follow the vectors it searches, not the number of systems in the
// fleet. Never one per tier either: at a million vectors, re-inserting the
// whole tier for every batch of new files cost more than everything else
// the jobs do.
//
// # What a run builds
//
// The live files of the memories table are grouped by tier. For each tier
// the job takes the segments a search would use (vecindex.Segments: usable,
// disjoint, newest first) and plans, without reading anything (planTier):
//
//   - a new segment over the live files no segment covers, once they hold
//     MinVectors rows or more (fewer are scanned exactly by searches, which
//     is as fast). The existing segments are left as they are.
//   - a rebuild of a segment over its live files when more than
//     RebuildDead of its vectors are in files that are no longer live
//     (compacted, aged to another tier): searches walk past those nodes,
//     and the files that replaced them are scanned exactly. A segment
//     built before indexes named every covered row's key
//     (vecindex.Manifest.RowKeys) is rebuilt once. Rebuilds and the new
//     files make one build.
//   - merges, log-structured (mergeUnits): segments fall into size tiers a
//     factor MergeFactor apart (tier 0 below MergeFactor x MinVectors); when
//     MergeFactor segments share a size tier they are merged into one over
//     all their live files, and while the tier would hold more than
//     MaxSegments segments its smallest are merged. A vector is thus
//     re-inserted a few times over its life (log of the tier's size), and a
//     search visits at most MaxSegments graphs.
//
// A build covers the live files of the segments it replaces (and the new
// files), so by vecindex.Segments' rule it supersedes them. Row counts come
// from the Delta statistics (an upper bound of the vectors: rows without an
// embedding count too), so planning costs no read; a new file without
// statistics counts as over any threshold. Segments are sized by their
// manifests' per-file vector counts.
//
// The job is idempotent: the plan simulates the merges until no rule
// applies, so right after a run nothing is uncovered, dead or mergeable and
// a second run builds nothing (when the statistics' row counts are the
// vectors read; rows without an embedding can make a build smaller than
// planned and so one more merge due). It is resumable for the same reason:
// a crash leaves at most orphaned .hnsw/.rows/.fts objects (the manifest,
// written last, is what makes a segment exist), and the next run plans
// what is still needed. Segments are never deleted here (a query may be
// reading one); vacuum removes the unusable and the superseded ones after
// its grace.
//
// # Full-text segments
//
// Each build also writes the full-text (BM25) segment of the same records
// (lake/fulltext): doc n is the content and tags of node n's row, so a text
// search filters and resolves its hits with the graph's rows table. It is
// built from the same whole-file reads (one more column decode), written
// before the manifest, which names it (vecindex.Manifest.Text). A segment
// of an older build has none: it serves vector search, text search scores
// its files exactly, and nothing rebuilds it for that alone (its next merge
// or rebuild gives it one). The covered files' rows that are not nodes
// (older versions, rows without an embedding) are in neither; text search
// scores them exactly.
//
// Memory is bounded by the largest build: its vectors and texts, decoded
// from its data files (whole-object GETs, four at a time), plus the
// full-text segment (about the size of the texts, freed before the graph
// is built) and the graph being built.
//
// `akosha job index` holds a lease, so two runs do not overlap; if two did,
// nothing is corrupted (every object has a fresh ULID and manifests are
// put-if-absent), a segment may just be built twice.
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
	"github.com/akosha/akosha/lake/fulltext"
	"github.com/akosha/akosha/lake/hnsw"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/lake/vecindex"
	"github.com/akosha/akosha/schemas"
)

// Defaults of Options.
const (
	// DefaultMinVectors is the fewest rows in files no segment covers that
	// make a new segment (fewer are scanned exactly, which is as fast), and
	// the size of the first size tier.
	DefaultMinVectors = 1000
	// DefaultMaxSegments bounds the segments of one tier: a search visits
	// each once.
	DefaultMaxSegments = 8
	// DefaultMergeFactor: size tiers are this factor apart, and this many
	// segments of one size tier are merged into one.
	DefaultMergeFactor = 4
)

// RebuildDead: a segment is rebuilt over its live files when more than this
// fraction of its vectors are in files that are no longer live. Below
// vecindex.MaxDeadFraction, so the old segment stays usable until the new
// one is built.
const RebuildDead = 0.20

// Options tune a run. The zero value means the defaults.
type Options struct {
	// MinVectors: fewer rows than this in the files no segment covers
	// make no new segment (default DefaultMinVectors; negative: any row
	// does).
	MinVectors int
	// MaxSegments: a tier holds at most this many segments (default
	// DefaultMaxSegments).
	MaxSegments int
	// MergeFactor of the size tiers (default DefaultMergeFactor, at least 2).
	MergeFactor int
	// M and EfConstruction of the graphs (defaults: hnsw's, 16 and 200).
	M, EfConstruction int
	// Workers inserting in parallel (default GOMAXPROCS).
	Workers int
	// DryRun plans without building: Summary.Built counts what would be.
	DryRun bool
	// Progress, when set, is called for each step: a tier left alone, or
	// one segment built (from one goroutine).
	Progress func(Event)
}

// Event phases.
const (
	PhasePlan    = "plan"    // Total steps to take
	PhaseCurrent = "current" // the tier's segments are good enough
	PhaseSmall   = "small"   // too few vectors: left to exact scans
	PhaseBuilt   = "built"   // a segment built now (or would be, in a dry run)
	PhaseFailed  = "failed"
)

// Reasons a segment is built (Event.Reason).
const (
	ReasonNew     = "new"      // over files no segment covers
	ReasonMerge   = "merge"    // merges segments (and maybe new files) into one
	ReasonDead    = "dead"     // too many of a segment's vectors in files no longer live
	ReasonRowKeys = "row_keys" // a segment built before indexes named every covered row's key
)

// Event reports progress.
type Event struct {
	Phase string
	// Partition is the tier; its Day is "".
	Partition lake.Partition
	Index     int // 1-based step number
	Total     int
	Vectors   int
	Reason    string // why a segment is built (PhaseBuilt, PhaseFailed)
	Replaces  int    // segments the built one supersedes
	Key       string // manifest key of a built segment
	Elapsed   time.Duration
	Err       error
}

// Summary is what a run did. "Partitions" are tiers: the unit of planning.
type Summary struct {
	Partitions int // tiers of the table looked at
	Current    int // tiers whose segments were good enough
	Small      int // tiers without segments left to exact scans, and builds that read fewer than MinVectors
	Built      int // segments built now
	Rebuilt    int // of Built, those that supersede existing segments (merges, rebuilds)
	Merged     int // of Rebuilt, merges
	Failed     int
	Vectors    int64 // vectors indexed now
	Failures   []Failure
}

// Failure is one segment that could not be built.
type Failure struct {
	Partition lake.Partition
	Err       error
}

// ErrPartitionsFailed is returned (wrapped) when some builds failed and the
// others were done.
var ErrPartitionsFailed = fmt.Errorf("some partitions failed")

// Run indexes the memories table of l.
func Run(ctx context.Context, l *lake.Lake, opts Options) (Summary, error) {
	var sum Summary
	if opts.MinVectors == 0 {
		opts.MinVectors = DefaultMinVectors
	}
	if opts.MaxSegments <= 0 {
		opts.MaxSegments = DefaultMaxSegments
	}
	if opts.MergeFactor <= 0 {
		opts.MergeFactor = DefaultMergeFactor
	}
	opts.MergeFactor = max(opts.MergeFactor, 2)
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
	cfg := planConfig{minVectors: opts.MinVectors, maxSegments: opts.MaxSegments, mergeFactor: opts.MergeFactor}
	type tierPlan struct {
		builds  []build
		indexed bool
	}
	plans := make([]tierPlan, len(order))
	steps := 0
	for i, g := range order {
		plans[i].builds, plans[i].indexed = planTier(groups[g], existing[g], cfg)
		steps += max(1, len(plans[i].builds))
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(Event) {}
	}
	progress(Event{Phase: PhasePlan, Total: steps})
	step := 0
	for i, g := range order {
		if len(plans[i].builds) == 0 {
			step++
			ev := Event{Partition: g, Index: step, Total: steps, Phase: PhaseCurrent}
			if plans[i].indexed {
				sum.Current++
			} else {
				sum.Small++
				ev.Phase = PhaseSmall
				for _, a := range groups[g] {
					ev.Vectors += int(max(rowsOf(a), 0))
				}
			}
			progress(ev)
			continue
		}
		for _, b := range plans[i].builds {
			if err := ctx.Err(); err != nil {
				return sum, err
			}
			step++
			ev := Event{Partition: g, Index: step, Total: steps, Reason: b.reason, Replaces: len(b.replaces)}
			start := time.Now()
			// MinVectors gates new segments only: a rebuild or a merge
			// replaces segments, and refusing it for being small would
			// plan it again at every run.
			minVectors := opts.MinVectors
			if len(b.replaces) > 0 {
				minVectors = 1
			}
			key, n, err := buildGroup(ctx, l.Store(), g, b.files, minVectors, opts)
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
				// A new segment of fewer vectors than MinVectors once
				// read (rows without an embedding, superseded versions),
				// or of none: its files stay scanned exactly.
				sum.Small++
				ev.Phase = PhaseSmall
			default:
				sum.Built++
				if len(b.replaces) > 0 {
					sum.Rebuilt++
				}
				if b.reason == ReasonMerge {
					sum.Merged++
				}
				sum.Vectors += int64(n)
				ev.Phase = PhaseBuilt
			}
			progress(ev)
		}
	}
	if sum.Failed > 0 {
		return sum, fmt.Errorf("%w: %d of %d", ErrPartitionsFailed, sum.Failed, steps)
	}
	return sum, nil
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

// buildGroup builds and stores one segment of tier p over files, some of
// its live files (latest wins among them: older versions of a record in
// other segments are the reader's to resolve). It returns the manifest key
// ("" when the files hold fewer than minVectors vectors, or in a dry run)
// and the number of vectors.
func buildGroup(ctx context.Context, store storage.Store, p lake.Partition, files []delta.Add, minVectors int, opts Options) (string, int, error) {
	files = slices.Clone(files)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	datas := make([]*vecindex.FileData, len(files))
	docs := make([][]fulltext.Doc, len(files))
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
			// The full-text segment's documents, from the same bytes.
			ds, err := readDocs(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			datas[i], docs[i] = d, ds
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return "", 0, err
	}
	rows, flat := latest(datas)
	datas = nil // the vectors live on in flat only
	n := rows.Len()
	if n < minVectors || n == 0 || opts.DryRun {
		return "", n, nil
	}
	// The full-text segment first: it needs the documents, which can then
	// go before the graph takes its memory.
	tb, err := buildText(rows, docs)
	if err != nil {
		return "", n, fmt.Errorf("build the full-text segment: %w", err)
	}
	docs = nil
	var text bytes.Buffer
	if _, err := tb.WriteTo(&text); err != nil {
		return "", n, fmt.Errorf("serialize the full-text segment: %w", err)
	}
	tb = nil
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
	if err := store.Put(ctx, keys.Text, bytes.NewReader(text.Bytes()), int64(text.Len())); err != nil {
		return "", n, fmt.Errorf("write %s: %w", keys.Text, err)
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
		Text:    vecindex.ObjRef{Key: keys.Text, Size: int64(text.Len())},
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

// latest keeps, per (system, id), the latest version among the segment's rows
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
