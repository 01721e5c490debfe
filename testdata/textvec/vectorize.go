package textvec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
)

// window is one document: count words of the corpus from start.
type window struct {
	start uint32
	count uint32
}

// windowsAt is how many windows of size w at stride s the corpus holds. A
// stream shorter than w is one window of its own.
//
//go:norace
func windowsAt(c *corpus, w, s int) int {
	total := 0
	for i := range c.streams() {
		l := c.starts[i+1] - c.starts[i]
		if l <= w {
			total++
		} else {
			total += (l-w)/s + 1
		}
	}
	return total
}

// sampleWindows picks n documents: the windows at the largest stride that
// still yields n, then n of those at random, in random order.
func sampleWindows(c *corpus, n, w int, seed int64) ([]window, error) {
	if len(c.words) > math.MaxUint32 {
		return nil, fmt.Errorf("textvec: corpus of %d words is too large", len(c.words))
	}
	if have := windowsAt(c, w, 1); have < n {
		return nil, fmt.Errorf("textvec: the corpus holds %d windows of %d words, fewer than the %d asked for", have, w, n)
	}
	// windowsAt falls as the stride grows: find the largest stride with n.
	lo, hi := 1, len(c.words)+1 // windowsAt(lo) >= n, windowsAt(hi) < n or hi too big to matter
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if windowsAt(c, w, mid) >= n {
			lo = mid
		} else {
			hi = mid
		}
	}
	s := lo
	all := make([]window, 0, windowsAt(c, w, s))
	for i := range c.streams() {
		a, b := c.starts[i], c.starts[i+1]
		if b-a <= w {
			all = append(all, window{uint32(a), uint32(b - a)})
			continue
		}
		for p := a; p+w <= b; p += s {
			all = append(all, window{uint32(p), uint32(w)})
		}
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed_7e47_0000_0001))
	// A partial Fisher-Yates shuffle: the first n are a uniform sample in
	// uniform order.
	for i := range n {
		j := i + rng.IntN(len(all)-i)
		all[i], all[j] = all[j], all[i]
	}
	return all[:n], nil
}

const buckets = 1 << hashBits

// mix is splitmix64's finalizer: FNV-1a's low bits are weak, and bigrams
// need their two words' hashes combined without symmetry.
//
//go:norace
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// features appends the buckets of a document's unigrams and bigrams.
//
//go:norace
func features(dst []uint32, words []uint64) []uint32 {
	for i, w := range words {
		dst = append(dst, uint32(mix(w)&(buckets-1)))
		if i > 0 {
			b := mix(words[i-1]*0x9e3779b97f4a7c15 ^ w ^ 0xb16a)
			dst = append(dst, uint32(b&(buckets-1)))
		}
	}
	return dst
}

// projection is the sparse JL matrix: for bucket b, jlBlocks entries at
// [b*jlBlocks, (b+1)*jlBlocks), each a coordinate (low 15 bits) and a sign
// (bit 15), one coordinate in each block of Dim/jlBlocks.
//
//go:norace
func projection(seed int64) []uint16 {
	const block = Dim / jlBlocks
	p := make([]uint16, buckets*jlBlocks)
	for b := range buckets {
		for j := range jlBlocks {
			h := mix(uint64(seed) ^ mix(uint64(b)*jlBlocks+uint64(j)+0x1234567))
			e := uint16(j*block) + uint16(h%block)
			if h>>63 == 1 {
				e |= 1 << 15
			}
			p[b*jlBlocks+j] = e
		}
	}
	return p
}

// lexicalWeight is the share of a document vector that is its own words
// (the TF-IDF projection); the rest is what its words mean (the Random
// Indexing part, see wordVectors). Pure TF-IDF has no notion of related
// words: two documents on one topic in different words are orthogonal, and
// the nearest neighbours of most documents barely stand out from the noise
// floor of the projection (top-10 cosine 0.3 against 0.2 for the 100th). On
// such data hnswlib itself reaches recall@10 0.78 at ef 100 on 20k vectors,
// unlike any real embedding model. An equal mix has the score profile of
// sentence embeddings of chunked text: mean cosine 0.01 between random
// documents, 0.7 to the nearest and 0.55 to the tenth nearest on 100k.
const lexicalWeight = 0.5

// vectorize turns the documents into unit vectors, flat.
func vectorize(c *corpus, docs []window, seed int64, workers int) []float32 {
	workers = max(1, min(workers, len(docs)/1024+1))
	// Pass 1: document frequencies, one array per worker, summed.
	dfs := make([][]uint32, workers)
	parallel(len(docs), workers, func(w, from, to int) {
		dfs[w] = docFrequencies(c, docs[from:to], from)
	})
	idf := make([]float32, buckets)
	nd := float64(len(docs))
	for b := range idf {
		var df uint32
		for _, a := range dfs {
			df += a[b]
		}
		idf[b] = float32(math.Log((1+nd)/(1+float64(df))) + 1)
	}
	proj := projection(seed)
	wv := c.wordVectors(seed, proj)

	// Pass 2: per document, the TF-IDF projection (lexical) and the
	// tf-idf-weighted sum of its words' vectors (semantic), each normalized,
	// mixed.
	out := make([]float32, len(docs)*Dim)
	parallel(len(docs), workers, func(_, from, to int) {
		embedDocs(c, docs, from, to, proj, idf, wv, out)
	})

	// Center: remove the direction every document shares (common words and
	// contexts), as embedding post-processing does, then normalize.
	mean := make([]float64, Dim)
	for d := range docs {
		for i, x := range out[d*Dim : (d+1)*Dim] {
			mean[i] += float64(x)
		}
	}
	m32 := make([]float32, Dim)
	for i := range mean {
		m32[i] = float32(mean[i] / nd)
	}
	parallel(len(docs), workers, func(_, from, to int) {
		center(out[from*Dim:to*Dim], m32)
	})
	return out
}

// axpy adds a*x to y.
//
//go:norace
func axpy(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}

// parallel runs fn over [0, n) split into workers contiguous ranges.
func parallel(n, workers int, fn func(w, from, to int)) {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(w, n*w/workers, n*(w+1)/workers)
		}()
	}
	wg.Wait()
}

// The generator's loops run under -race in every test package that uses
// textvec, where the race detector made them 10-30 times slower: a set not
// yet cached cost some 30 CPU-seconds. They are marked go:norace. Each
// worker reads shared inputs that are written before it starts and writes
// only its own range of the output, which parallel's WaitGroup publishes.

// docFrequencies counts, per bucket, the documents of docs (numbered from
// first) holding it.
//
//go:norace
func docFrequencies(c *corpus, docs []window, first int) []uint32 {
	df := make([]uint32, buckets)
	seen := make([]uint32, buckets) // seen[b] == doc+1: counted for doc
	var fs []uint32
	for i, doc := range docs {
		d := first + i
		fs = features(fs[:0], c.words[doc.start:doc.start+doc.count])
		for _, b := range fs {
			if seen[b] != uint32(d+1) {
				seen[b] = uint32(d + 1)
				df[b]++
			}
		}
	}
	return df
}

// embedDocs writes the vectors of docs[from:to] into out: the TF-IDF
// projection (lexical) and the tf-idf-weighted sum of the words' vectors
// (semantic), each normalized, mixed.
//
//go:norace
func embedDocs(c *corpus, docs []window, from, to int, proj []uint16, idf []float32, wv *words, out []float32) {
	words := func(d window) []uint64 { return c.words[d.start : d.start+d.count] }
	tf := make([]uint16, buckets)
	wtf := make([]uint16, len(wv.bucket)) // per vocabulary word
	var fs, uniq []uint32
	var wuniq []int32
	sem := make([]float32, Dim)
	for d := from; d < to; d++ {
		ws := words(docs[d])
		fs = features(fs[:0], ws)
		uniq = uniq[:0]
		for _, b := range fs {
			if tf[b] == 0 {
				uniq = append(uniq, b)
			}
			tf[b]++
		}
		v := out[d*Dim : (d+1)*Dim]
		for _, b := range uniq {
			wt := (1 + float32(math.Log(float64(tf[b])))) * idf[b]
			tf[b] = 0
			for _, e := range proj[b*jlBlocks : (b+1)*jlBlocks] {
				if e&(1<<15) != 0 {
					v[e&(1<<15-1)] -= wt
				} else {
					v[e] += wt
				}
			}
		}
		normalize(v)

		wuniq = wuniq[:0]
		for _, idx := range wv.token[docs[d].start : docs[d].start+docs[d].count] {
			if idx < 0 {
				continue
			}
			if wtf[idx] == 0 {
				wuniq = append(wuniq, idx)
			}
			wtf[idx]++
		}
		clear(sem)
		for _, idx := range wuniq {
			wt := (1 + float32(math.Log(float64(wtf[idx])))) * idf[wv.bucket[idx]]
			wtf[idx] = 0
			axpy(sem, wt, wv.vecs[int(idx)*Dim:(int(idx)+1)*Dim])
		}
		normalize(sem)
		for i := range v {
			v[i] = lexicalWeight*v[i] + (1-lexicalWeight)*sem[i]
		}
	}
}

// center subtracts m from each vector of vs and normalizes it.
//
//go:norace
func center(vs []float32, m []float32) {
	for o := 0; o < len(vs); o += Dim {
		v := vs[o : o+Dim]
		for i := range v {
			v[i] -= m[i]
		}
		normalize(v)
	}
}
