package hnsw

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
)

// dupDot: two unit vectors whose dot product reaches 1-dupDot are treated as
// duplicates by the neighbour heuristic (see selectNeighbours).
const dupDot = 1e-6

// Build indexes n = len(vectors)/dim vectors of dimension dim, stored flat
// (row i at vectors[i*dim:(i+1)*dim]); node id i is row i. Build copies the
// vectors and normalizes the copy, so the caller's slice is neither kept nor
// changed and need not be unit length. A zero vector is kept as zero. A NaN
// or infinite component is an error.
//
// Up to cfg.Workers goroutines insert in parallel; ctx cancels the build.
//
// Where the CPU converts float16 (amd64 with F16C) and dim is a multiple of
// 32, the inserts' graph searches read a float16 copy of the vectors: the
// searches are bound by memory, not arithmetic, and half the bytes per
// vector made a 100k build take about a quarter fewer CPU-seconds. Float16
// moves a dot product of unit vectors by about 1e-5. The neighbour
// selection then works as without the copy: the search's results get their
// exact distances and order back (rerank), and every distance the heuristic
// and the pruning of full lists use is float32 (choosing on float16
// distances cost 0.005 of recall@10 on textvec). The copy, 2 bytes a
// component, is dropped when Build returns; searches of the built index use
// float32 only.
func Build(ctx context.Context, vectors []float32, dim int, cfg Config) (*Index, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if dim <= 0 || dim > maxDim {
		return nil, fmt.Errorf("hnsw: dimension %d out of range [1, %d]", dim, maxDim)
	}
	if len(vectors)%dim != 0 {
		return nil, fmt.Errorf("hnsw: %d floats is not a whole number of %d-d vectors", len(vectors), dim)
	}
	n := len(vectors) / dim
	if n >= math.MaxInt32 {
		return nil, fmt.Errorf("hnsw: %d vectors: at most %d fit int32 node ids", n, math.MaxInt32-1)
	}

	ix := &Index{
		dim:            dim,
		m:              cfg.M,
		efConstruction: cfg.EfConstruction,
		efSearch:       cfg.EfSearch,
		seed:           cfg.Seed,
		n:              n,
		vectors:        make([]float32, len(vectors)),
		entry:          -1,
	}
	adviseHuge(ix.vectors)
	copy(ix.vectors, vectors)
	ix.vecLines = (4*ix.dim + 63) / 64
	for i := range n {
		v := ix.vectors[i*dim : (i+1)*dim]
		if !finite(v) {
			return nil, fmt.Errorf("hnsw: vector %d has a NaN or infinite component", i)
		}
		Normalize(v)
	}
	if err := ix.allocate(drawLevels(n, cfg.M, cfg.Seed)); err != nil {
		return nil, err
	}
	if n == 0 {
		return ix, nil
	}
	if canHalf(dim) {
		ix.half = make([]uint16, len(ix.vectors))
		adviseHuge(ix.half)
		toHalfSlice(ix.half, ix.vectors)
		ix.halfLines = (2*dim + 63) / 64
	}
	b := &builder{ix: ix, locks: make([]sync.Mutex, n)}
	workers := min(cfg.Workers, n)
	ix.parallel = workers > 1
	err := b.run(ctx, workers)
	ix.parallel = false
	ix.half = nil
	if err != nil {
		return nil, err
	}
	ix.clearTails()
	return ix, nil
}

// drawLevels draws every node's level up front from the seed, so that levels
// (and so the layout of the upper lists) do not depend on how parallel
// inserts interleave. The distribution is the paper's: floor(-ln(U) * mL)
// with mL = 1/ln(M), so each level holds about 1/M of the one below.
func drawLevels(n, m int, seed int64) []uint8 {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	mL := 1 / math.Log(float64(m))
	levels := make([]uint8, n)
	for i := range levels {
		u := 1 - rng.Float64() // (0, 1]: ln never sees 0
		l := int(-math.Log(u) * mL)
		levels[i] = uint8(min(l, maxLevel))
	}
	return levels
}

// allocate lays out the neighbour arrays for the given levels, all lists
// empty, and picks the first node with the highest level as the entry point
// (the builder starts the graph from it).
func (ix *Index) allocate(levels []uint8) error {
	n := ix.n
	ix.level0 = make([]int32, n*(1+2*ix.m))
	adviseHuge(ix.level0)
	ix.upperOff = make([]uint32, n+1)
	var off uint64
	for i, l := range levels {
		ix.upperOff[i] = uint32(off)
		off += uint64(l) * uint64(1+ix.m)
		if off > math.MaxUint32 {
			return fmt.Errorf("hnsw: %d vectors need more upper-level slots than fit uint32 offsets", n)
		}
		if ix.entry < 0 || int(l) > ix.maxLevel {
			ix.entry, ix.maxLevel = int32(i), int(l)
		}
	}
	ix.upperOff[n] = uint32(off)
	ix.upper = make([]int32, off)
	return nil
}

// builder holds the state of a parallel build.
//
// The graph starts as one node: the first of those with the highest level,
// which allocate made the entry point. Because levels are drawn up front the
// entry point never has to move, so inserts never race to raise it.
//
// Locking: locks[i] serializes writers of node i's lists. No goroutine holds
// two node locks, so there is no lock order to get wrong. Readers take no
// lock: list elements are read and written with atomics, and a reader racing
// a rewrite sees a mix of old and new ids, all valid nodes whose vectors are
// in place, which the search tolerates.
type builder struct {
	ix    *Index
	locks []sync.Mutex
}

func (b *builder) run(ctx context.Context, workers int) error {
	ix := b.ix
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := newSearcher(ix.n)
			for done := 0; ; done++ {
				if done%256 == 0 {
					if err := ctx.Err(); err != nil {
						errs[w] = fmt.Errorf("hnsw: build cancelled: %w", err)
						return
					}
				}
				i := int32(next.Add(1) - 1)
				if int(i) >= ix.n {
					return
				}
				if i != ix.entry {
					b.insert(s, i)
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// insert is the paper's INSERT for node id, whose level is already drawn.
func (b *builder) insert(s *searcher, id int32) {
	ix := b.ix
	q := ix.vec(id)
	top := ix.level(id)

	ep := ix.entry
	epDist := ix.dist(q, ep)
	for l := ix.maxLevel; l > top; l-- {
		ep, epDist = ix.greedy(s, q, ep, epDist, l)
	}
	for l := top; l >= 0; l-- {
		ix.searchLayer(s, q, item{epDist, ep}, ix.efConstruction, l, nil)
		ep, epDist = s.out[0].id, s.out[0].dist
		if ix.half != nil {
			ix.rerank(q, s.out)
		}
		// Copy: link reuses s.sel when it prunes.
		s.links = append(s.links[:0], ix.selectNeighbours(s, s.out, ix.m)...)

		blk := ix.list(id, l)
		b.locks[id].Lock()
		for j, c := range s.links {
			atomic.StoreInt32(&blk[1+j], c.id)
		}
		atomic.StoreInt32(&blk[0], int32(len(s.links)))
		b.locks[id].Unlock()

		mMax := ix.m
		if l == 0 {
			mMax = 2 * ix.m
		}
		for _, c := range s.links {
			b.link(s, c.id, item{c.dist, id}, l, mMax)
		}
	}
}

// link adds x (with its distance to node) to node's list at level l,
// re-selecting the list with the heuristic when it is full.
func (b *builder) link(s *searcher, node int32, x item, l, mMax int) {
	ix := b.ix
	blk := ix.list(node, l)
	b.locks[node].Lock()
	defer b.locks[node].Unlock()

	c := int(blk[0]) // only writers change it, and we hold the lock
	for j := 1; j <= c; j++ {
		if blk[j] == x.id {
			return
		}
	}
	if c < mMax {
		atomic.StoreInt32(&blk[1+c], x.id)
		atomic.StoreInt32(&blk[0], int32(c+1))
		return
	}
	nv := ix.vec(node)
	s.prune = append(s.prune[:0], x)
	for j := 1; j <= min(c, prefetchAhead); j++ {
		ix.prefetchExact(blk[j])
	}
	for j := 1; j <= c; j++ {
		if j+prefetchAhead <= c {
			ix.prefetchExact(blk[j+prefetchAhead])
		}
		id := blk[j]
		s.prune = append(s.prune, item{-dot(nv, ix.vec(id)), id})
	}
	slices.SortFunc(s.prune, compareItems)
	sel := ix.selectNeighbours(s, s.prune, mMax)
	// Write ids before the count: a reader that sees the new count finds
	// only valid ids below it, old or new.
	for j, it := range sel {
		atomic.StoreInt32(&blk[1+j], it.id)
	}
	atomic.StoreInt32(&blk[0], int32(len(sel)))
	// The slots past the new count keep their old ids until the build
	// ends (clearTails): a search that read the old count a moment ago may
	// still read them, and an old id is a node of this level, while a
	// zero would be node 0, which may not be (and linking it at this
	// level would write into another node's upper list).
}

// clearTails zeroes every list's slots past its count, once the build is
// done: never read, but zeros make the serialized form independent of what
// a list once held.
func (ix *Index) clearTails() {
	zeroTail := func(blk []int32) {
		for j := 1 + int(blk[0]); j < len(blk); j++ {
			blk[j] = 0
		}
	}
	for id := range ix.n {
		for l := 0; l <= ix.level(int32(id)); l++ {
			zeroTail(ix.list(int32(id), l))
		}
	}
}

// rerank replaces the float16 distances of a float16 search's results with
// exact ones and sorts them again, closest first, for selectNeighbours. The
// heuristic examines most of them anyway (146 of 200 on average on textvec),
// each needing its float32 vector, and walking them in exact order matters:
// walking in float16 order, with exact distances, cost 0.002-0.004 of
// recall@10 at ef 16 on 100k and 1M textvec vectors.
func (ix *Index) rerank(q []float32, out []item) {
	for _, c := range out[:min(prefetchAhead, len(out))] {
		ix.prefetchExact(c.id)
	}
	for i := range out {
		if i+prefetchAhead < len(out) {
			ix.prefetchExact(out[i+prefetchAhead].id)
		}
		out[i].dist = -dot(q, ix.vec(out[i].id))
	}
	slices.SortFunc(out, compareItems)
}

// selectNeighbours is the paper's heuristic (algorithm 4, without
// extendCandidates or keepPrunedConnections): walking the candidates closest
// first, keep one only if it is closer to the base than to every one kept so
// far. That spreads the links over directions instead of spending them all
// on one tight cluster, which is what keeps recall high on clustered data.
//
// One addition for exact duplicates (dot >= 1-dupDot with a kept
// candidate): at most m/2 of them are kept. The plain rule keeps every copy
// when the base is itself a copy (0 < 0 is false), so a few hundred copies
// of one vector fill each other's lists and become an island: with 3000
// copies inserted first, recall@10 of other queries fell to 0.40. Dropping
// all but one copy instead avoids the island but leaves the copies
// unreachable from each other (a query for the copied vector found 3 of
// them); half the list keeps both properties.
//
// cands must be sorted closest first, by exact distances; the result
// aliases s.sel.
func (ix *Index) selectNeighbours(s *searcher, cands []item, m int) []item {
	s.sel = s.sel[:0]
	dups := 0
	for _, c := range cands {
		if len(s.sel) >= m {
			break
		}
		cv := ix.vec(c.id)
		keep, dup := true, false
		for _, r := range s.sel {
			d := -dot(cv, ix.vec(r.id))
			if -d >= 1-dupDot {
				dup = true
				continue // a copy of r: closer to r than to the base only if the base differs
			}
			if d < c.dist {
				keep = false
				break
			}
		}
		if dup {
			// A copy of a kept node is as close to it as possible; it is
			// kept (in a bounded number) only when the base is a copy too.
			keep = keep && c.dist <= -(1-dupDot) && dups < max(1, m/2)
			if keep {
				dups++
			}
		}
		if keep {
			s.sel = append(s.sel, c)
		}
	}
	return s.sel
}
