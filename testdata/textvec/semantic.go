package textvec

import (
	"math"
	"slices"
)

const (
	// contextRadius is how many words on each side make a word's context.
	contextRadius = 2
	// minWordCount: rarer words get no vector of their own (a context
	// vector from one occurrence is noise); they still count lexically.
	minWordCount = 2
)

// words holds the vocabulary's vectors.
type words struct {
	token  []int32   // per corpus word: its vocabulary index, -1 if rare
	bucket []uint32  // per vocabulary word: its unigram feature bucket (for idf)
	vecs   []float32 // per vocabulary word: Dim floats, unit length
}

// wordVectors is Random Indexing (Kanerva et al. 2000; Sahlgren 2005): a
// word's vector is the sum of the sparse random index vectors (the rows of
// the projection) of the words within contextRadius of each of its
// occurrences. That is a random projection of the word's row of the
// word-context co-occurrence matrix, so words used in the same contexts
// ("mutex" and "lock") get similar vectors, as in distributional semantics.
// The mean vector (the direction of the commonest contexts, shared by all
// words) is removed, and each vector normalized.
//
//go:norace
func wordVectors(c *corpus, proj []uint16) *words {
	counts := make(map[uint64]int32)
	for _, w := range c.words {
		counts[w]++
	}
	keys := make([]uint64, 0, len(counts))
	for w, n := range counts {
		if n >= minWordCount {
			keys = append(keys, w)
		}
	}
	slices.Sort(keys) // a fixed order: the vocabulary index must not depend on map iteration
	vocab := make(map[uint64]int32, len(keys))
	wv := &words{
		token:  make([]int32, len(c.words)),
		bucket: make([]uint32, len(keys)),
		vecs:   make([]float32, len(keys)*Dim),
	}
	for i, w := range keys {
		vocab[w] = int32(i)
		wv.bucket[i] = uint32(mix(w) & (buckets - 1))
	}
	for i, w := range c.words {
		if id, ok := vocab[w]; ok {
			wv.token[i] = id
		} else {
			wv.token[i] = -1
		}
	}

	for s := range c.streams() {
		lo, hi := c.starts[s], c.starts[s+1]
		for i := lo; i < hi; i++ {
			id := wv.token[i]
			if id < 0 {
				continue
			}
			v := wv.vecs[int(id)*Dim : (int(id)+1)*Dim]
			for j := max(lo, i-contextRadius); j < min(hi, i+contextRadius+1); j++ {
				if j == i {
					continue
				}
				b := mix(c.words[j]) & (buckets - 1)
				for _, e := range proj[b*jlBlocks : (b+1)*jlBlocks] {
					if e&(1<<15) != 0 {
						v[e&(1<<15-1)]--
					} else {
						v[e]++
					}
				}
			}
		}
	}

	mean := make([]float64, Dim)
	for i := range keys {
		v := wv.vecs[i*Dim : (i+1)*Dim]
		normalize(v)
		for j, x := range v {
			mean[j] += float64(x)
		}
	}
	for i := range keys {
		v := wv.vecs[i*Dim : (i+1)*Dim]
		for j := range v {
			v[j] -= float32(mean[j] / float64(len(keys)))
		}
		normalize(v)
	}
	return wv
}

// normalize scales v to unit length; a zero v stays zero.
//
//go:norace
func normalize(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss > 0 {
		inv := 1 / math.Sqrt(ss)
		for i, x := range v {
			v[i] = float32(float64(x) * inv)
		}
	}
}
