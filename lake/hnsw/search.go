package hnsw

import (
	"fmt"
	"slices"
	"unsafe"
)

// searcher is one goroutine's scratch space. Queries take one from the
// index's pool; each build worker owns one. Nothing in the search loop
// allocates once the buffers have grown.
type searcher struct {
	// visited[i] == gen marks node i seen by the current search. Bumping gen
	// clears the set in O(1); the array is wiped only when gen wraps.
	visited []uint16
	gen     uint16

	cand  minHeap // nodes to expand, closest first
	res   maxHeap // best ef so far, farthest on top
	nbuf  []int32 // neighbour ids of the node being expanded
	out   []item  // a search's results, closest first
	sel   []item  // heuristic selection
	links []item  // an insert's chosen neighbours at one level
	prune []item  // candidates when pruning a full neighbour list
	q     []float32
}

func newSearcher(n int) *searcher {
	return &searcher{visited: make([]uint16, n)}
}

func (s *searcher) nextGen() {
	s.gen++
	if s.gen == 0 {
		clear(s.visited)
		s.gen = 1
	}
}

// visit marks id and reports whether it was already marked.
func (s *searcher) visit(id int32) bool {
	if s.visited[id] == s.gen {
		return true
	}
	s.visited[id] = s.gen
	return false
}

// prefetchAhead is how many neighbours ahead of the distance computation
// their vectors are prefetched. Measured on 30k textvec vectors: 1 ahead
// gains 25-40% in build and query speed over none, 3 ahead another 10% at
// low ef; prefetching only the first lines of each vector loses most of it.
const prefetchAhead = 3

// prefetchVec starts loading the vector that dist reads for node id into the
// cache.
func (ix *Index) prefetchVec(id int32) {
	if ix.half != nil {
		prefetch(unsafe.Pointer(&ix.half[int(id)*ix.dim]), ix.halfLines)
		return
	}
	if ix.codes != nil {
		prefetch(unsafe.Pointer(&ix.codes[int(id)*ix.dim]), ix.codeLines)
		return
	}
	ix.prefetchExact(id)
}

// prefetchExact starts loading node id's float32 vector into the cache.
func (ix *Index) prefetchExact(id int32) {
	prefetch(unsafe.Pointer(&ix.vectors[int(id)*ix.dim]), ix.vecLines)
}

// greedy walks level l from (cur, curDist) to a local minimum: the descent
// through the upper levels, where the ef = 1 search of the paper is this.
func (ix *Index) greedy(s *searcher, q []float32, cur int32, curDist float32, l int) (int32, float32) {
	for {
		moved := false
		s.nbuf = ix.neighbours(s.nbuf[:0], cur, l)
		for _, nb := range s.nbuf {
			if d := ix.dist(q, nb); d < curDist || (d == curDist && nb < cur) {
				cur, curDist, moved = nb, d, true
			}
		}
		if !moved {
			return cur, curDist
		}
	}
}

// searchLayer is the paper's SEARCH-LAYER: a best-first search of level l
// from ep, keeping the ef closest nodes that pass filter (nil passes all).
// Nodes that fail the filter are still expanded, so a filter never cuts the
// graph; it only keeps them out of the results. It leaves the results in
// s.out, closest first.
func (ix *Index) searchLayer(s *searcher, q []float32, ep item, ef, l int, filter func(int32) bool) {
	s.nextGen()
	s.cand = s.cand[:0]
	s.res = s.res[:0]
	s.visit(ep.id)
	s.cand.push(ep)
	if filter == nil || filter(ep.id) {
		s.res.push(ep)
	}
	for len(s.cand) > 0 {
		c := s.cand.pop()
		if len(s.res) >= ef && c.dist > s.res[0].dist {
			break // every remaining candidate is farther than the worst result
		}
		if len(s.cand) > 0 && l == 0 {
			// The next node to expand is probably the new top: start
			// fetching its neighbour block now.
			prefetch(unsafe.Pointer(&ix.level0[int(s.cand[0].id)*(1+2*ix.m)]), (4*(1+2*ix.m)+63)/64+1)
		}
		s.nbuf = ix.neighbours(s.nbuf[:0], c.id, l)
		fresh := s.nbuf[:0]
		for _, nb := range s.nbuf {
			if !s.visit(nb) {
				fresh = append(fresh, nb)
			}
		}
		for j := range min(prefetchAhead, len(fresh)) {
			ix.prefetchVec(fresh[j])
		}
		for j, nb := range fresh {
			if j+prefetchAhead < len(fresh) {
				ix.prefetchVec(fresh[j+prefetchAhead])
			}
			d := ix.dist(q, nb)
			if len(s.res) < ef || d < s.res[0].dist {
				s.cand.push(item{d, nb})
				if filter != nil && !filter(nb) {
					continue
				}
				if len(s.res) < ef {
					s.res.push(item{d, nb})
				} else {
					s.res.replaceTop(item{d, nb})
				}
			}
		}
	}
	// Drain the max-heap from the back: farthest first, so fill s.out in
	// reverse to get closest first.
	n := len(s.res)
	s.out = slices.Grow(s.out[:0], n)[:n]
	for i := n - 1; i >= 0; i-- {
		s.out[i] = s.res.pop()
	}
}

// Search returns the k nearest neighbours of q, highest score first. ef is
// the candidate list size (ef <= 0: the index's EfSearch; below k: k); a
// larger ef costs time and gains recall. q need not be unit length.
//
// filter, when not nil, keeps only the nodes it returns true for; it is
// called from the searching goroutine only. The search walks through
// rejected nodes, so results stay correct however few nodes pass, but the
// fewer pass, the more of the graph the search visits: for selective
// filters scan exactly instead (see SearchFiltered and ShouldScanExactly).
//
// The only error is a query of the wrong dimension. A zero query scores 0
// against everything and returns k arbitrary nodes.
func (ix *Index) Search(q []float32, k, ef int, filter func(id int32) bool) ([]Result, error) {
	if len(q) != ix.dim {
		return nil, fmt.Errorf("hnsw: query has dimension %d, index %d", len(q), ix.dim)
	}
	if k <= 0 || ix.n == 0 {
		return []Result{}, nil
	}
	if ef <= 0 {
		ef = ix.efSearch
	}
	k = min(k, ix.n)
	ef = min(max(ef, k), ix.n)

	s, _ := ix.searchers.Get().(*searcher)
	if s == nil {
		s = newSearcher(ix.n)
	}
	defer ix.searchers.Put(s)

	s.q = append(s.q[:0], q...)
	Normalize(s.q)
	qv := s.q

	cur := ix.entry
	curDist := ix.dist(qv, cur)
	for l := ix.maxLevel; l > 0; l-- {
		cur, curDist = ix.greedy(s, qv, cur, curDist, l)
	}
	ix.searchLayer(s, qv, item{curDist, cur}, ef, 0, filter)

	n := min(k, len(s.out))
	out := make([]Result, n)
	for i := range out {
		out[i] = Result{ID: s.out[i].id, Score: -s.out[i].dist}
	}
	return out, nil
}

// SearchFiltered is Search for a filter that matching of the index's nodes
// pass (an estimate is enough). When ShouldScanExactly says the filter is
// selective enough, it scans the matching vectors exactly instead of
// walking the graph, which is both faster and exact there.
func (ix *Index) SearchFiltered(q []float32, k, ef int, filter func(id int32) bool, matching int) ([]Result, error) {
	if ef <= 0 {
		ef = ix.efSearch
	}
	if filter != nil && ShouldScanExactly(matching, ix.n, max(ef, k)) {
		return ix.Exact(q, k, filter)
	}
	return ix.Search(q, k, ef, filter)
}

// Cost model of ShouldScanExactly, in units of one 384-d dot product
// (about 80 ns from memory). A graph search at ef visits about visitsPerEf*ef
// nodes when every node passes the filter, and about that divided by the
// filter's selectivity when few do, each costing a dot product and a filter
// call. An exact scan calls the filter on every node and computes a dot
// product for the matching ones. visitsPerEf was measured on 100k and 1M
// textvec vectors at M 16 (20-30 visits per unit of ef).
const (
	visitsPerEf = 30
	filterCost  = 0.05 // a filter call (a bitmap test) against a dot product
)

// ShouldScanExactly reports whether a query whose filter passes matching of
// total nodes is cheaper, and then exact rather than approximate, as an
// exact scan than as a graph search at ef. At ef 100 the line falls near
// 15k matching nodes of 100k and 36k of 1M.
func ShouldScanExactly(matching, total, ef int) bool {
	if total <= 0 || matching <= 0 {
		return true
	}
	if matching >= total {
		return false
	}
	sel := float64(matching) / float64(total)
	graph := visitsPerEf * float64(max(ef, 1)) / sel * (1 + filterCost)
	exact := float64(matching) + filterCost*float64(total)
	return exact <= graph
}
