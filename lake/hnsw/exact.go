package hnsw

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
)

// Exact returns the k vectors of the flat array vectors (dimension dim, row i
// at [i*dim, (i+1)*dim)) with the highest dot product with q, highest first,
// ties to the lower id. It is the query path's scan of rows not yet indexed
// and of selective filters, and the ground truth of the recall tests.
//
// q is normalized (a copy); the vectors are taken as they are, so scores are
// cosine similarities when the vectors are unit length (see Normalize).
// filter, when not nil, keeps only the rows it returns true for.
func Exact(vectors []float32, dim int, q []float32, k int, filter func(id int32) bool) ([]Result, error) {
	qn, n, err := exactArgs(vectors, dim, q)
	if err != nil || k <= 0 || n == 0 {
		return []Result{}, err
	}
	k = min(k, n)
	h := make(maxHeap, 0, k)
	scan(&h, vectors, dim, qn, k, 0, n, filter)
	return drain(h), nil
}

// ExactParallel is Exact split over workers goroutines (<= 0: GOMAXPROCS),
// each scanning a contiguous range with its own heap. filter is called
// concurrently and must be safe for that.
func ExactParallel(vectors []float32, dim int, q []float32, k int, filter func(id int32) bool, workers int) ([]Result, error) {
	qn, n, err := exactArgs(vectors, dim, q)
	if err != nil || k <= 0 || n == 0 {
		return []Result{}, err
	}
	k = min(k, n)
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	// Below a few thousand rows the goroutines cost more than they save.
	workers = max(1, min(workers, n/4096))
	heaps := make([]maxHeap, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			heaps[w] = make(maxHeap, 0, k)
			scan(&heaps[w], vectors, dim, qn, k, n*w/workers, n*(w+1)/workers, filter)
		}()
	}
	wg.Wait()
	all := heaps[0]
	for _, h := range heaps[1:] {
		for _, it := range h {
			offer(&all, it, k)
		}
	}
	return drain(all), nil
}

// Exact scans the index's own vectors: SearchFiltered's path for selective
// filters.
func (ix *Index) Exact(q []float32, k int, filter func(id int32) bool) ([]Result, error) {
	if len(q) != ix.dim {
		return nil, fmt.Errorf("hnsw: query has dimension %d, index %d", len(q), ix.dim)
	}
	if ix.codes != nil {
		return ix.exactInt8(q, k, filter), nil
	}
	return Exact(ix.vectors, ix.dim, q, k, filter)
}

func exactArgs(vectors []float32, dim int, q []float32) ([]float32, int, error) {
	if dim <= 0 || len(q) != dim {
		return nil, 0, fmt.Errorf("hnsw: query has dimension %d, vectors %d", len(q), dim)
	}
	if len(vectors)%dim != 0 {
		return nil, 0, fmt.Errorf("hnsw: %d floats is not a whole number of %d-d vectors", len(vectors), dim)
	}
	qn := slices.Clone(q)
	Normalize(qn)
	return qn, len(vectors) / dim, nil
}

// scan offers rows [from, to) to h. h is a max-heap of the best k as items
// with dist = -score, so its top is the k-th best: the one to evict.
func scan(h *maxHeap, vectors []float32, dim int, q []float32, k, from, to int, filter func(int32) bool) {
	for i := from; i < to; i++ {
		if filter != nil && !filter(int32(i)) {
			continue
		}
		d := -dot(q, vectors[i*dim:(i+1)*dim:(i+1)*dim])
		// The common case, a row no better than the k-th best, costs one
		// compare. Ids rise through the scan, so a tie loses to the row
		// already kept, as less orders them.
		if len(*h) == k && d >= (*h)[0].dist {
			continue
		}
		offer(h, item{d, int32(i)}, k)
	}
}

// offer puts it into the bounded heap h if it beats the k-th best.
func offer(h *maxHeap, it item, k int) {
	switch {
	case len(*h) < k:
		h.push(it)
	case less(it, (*h)[0]):
		h.replaceTop(it)
	}
}

// drain empties h into results, highest score first.
func drain(h maxHeap) []Result {
	out := make([]Result, len(h))
	for i := len(out) - 1; i >= 0; i-- {
		it := h.pop()
		out[i] = Result{ID: it.id, Score: -it.dist}
	}
	return out
}
