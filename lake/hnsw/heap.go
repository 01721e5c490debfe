package hnsw

// item is a node and its distance to the query. Distance is the negated dot
// product, so smaller is closer and the score is exactly -dist.
type item struct {
	dist float32
	id   int32
}

// less orders items by distance, then by id, so that ties break the same way
// in every run and in both the graph search and the exact scan.
func less(a, b item) bool {
	return a.dist < b.dist || (a.dist == b.dist && a.id < b.id)
}

func compareItems(a, b item) int {
	switch {
	case less(a, b):
		return -1
	case less(b, a):
		return 1
	}
	return 0
}

// minHeap pops the closest item first: the candidate queue of a search.
// Hand-written rather than container/heap, whose interface calls cost a
// third of a search's time.
type minHeap []item

func (h *minHeap) push(x item) {
	s := append(*h, x)
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !less(s[i], s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
	*h = s
}

func (h *minHeap) pop() item {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	downMin(s, 0)
	*h = s
	return top
}

// maxHeap keeps the farthest item on top: the bounded result set of a
// search, whose top is the one to evict.
type maxHeap []item

func (h *maxHeap) push(x item) {
	s := append(*h, x)
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !less(s[p], s[i]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
	*h = s
}

func (h *maxHeap) pop() item {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	downMax(s, 0)
	*h = s
	return top
}

// replaceTop swaps the top (farthest) for x and restores the heap: one
// sift instead of a pop and a push.
func (h maxHeap) replaceTop(x item) {
	h[0] = x
	downMax(h, 0)
}

// downMin sifts s[i] down in a min-heap. Two copies of the sift (here and
// downMax) instead of one taking a comparison func: the func would not be
// inlined, and the sift is the inner loop of every search.
func downMin(s []item, i int) {
	n := len(s)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && less(s[r], s[l]) {
			c = r
		}
		if !less(s[c], s[i]) {
			return
		}
		s[i], s[c] = s[c], s[i]
		i = c
	}
}

// downMax sifts s[i] down in a max-heap.
func downMax(s []item, i int) {
	n := len(s)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && less(s[l], s[r]) {
			c = r
		}
		if !less(s[i], s[c]) {
			return
		}
		s[i], s[c] = s[c], s[i]
		i = c
	}
}
