// Package fusion merges the two rankings of hybrid search, the vector
// index's and the full-text index's, by weighted reciprocal-rank fusion
// (Cormack, Clarke & Büttcher, 2009):
//
//	fused(d) = w/(k + rank_vector(d)) + (1-w)/(k + rank_text(d))
//
// where a rank is 1-based and a list that does not hold d adds nothing.
// Ranks, not scores, are fused because the two scores live on unrelated
// scales (cosine similarity in [-1, 1], BM25 unbounded and corpus-dependent);
// k (60 by default, the paper's) keeps the top few ranks from dominating.
//
// It is a pure function of two lists, with no storage or HTTP in it, so that
// the query function's search and any job or tool fuse the same way. It
// lives in lake/ beside the two index formats it fuses.
package fusion

import (
	"fmt"
	"math"
	"slices"
)

// DefaultK is the rank constant of the RRF paper.
const DefaultK = 60

// Scored is one entry of an input ranking: a key (whatever identifies a
// record across both lists, e.g. system and memory id) and the score its
// index gave it. A list is best first; its order, not the scores, gives the
// ranks.
type Scored[K comparable] struct {
	Key   K
	Score float64
}

// Options tune Fuse.
type Options struct {
	// Weight is the vector ranking's share, in [0, 1]: 1 ranks by vectors
	// alone, 0 by text alone, 0.5 (DefaultOptions) evenly.
	Weight float64
	// K is the rank constant; 0 means DefaultK.
	K float64
	// Limit caps the fused list; 0 keeps every key of either list.
	Limit int
}

// DefaultOptions weighs both rankings evenly with the paper's k.
func DefaultOptions() Options { return Options{Weight: 0.5, K: DefaultK} }

// Hit is one fused result: where it stood in each input and in the fusion.
type Hit[K comparable] struct {
	Key K
	// Score is the fused RRF score; Rank its 1-based place in the fused list.
	Score float64
	Rank  int
	// VectorRank and TextRank are 1-based places in the inputs, 0 where the
	// list does not hold the key; VectorScore and TextScore are the scores
	// the lists gave (0 there too), e.g. cosine similarity and BM25.
	VectorRank, TextRank   int
	VectorScore, TextScore float64
}

// Fuse merges the vector and text rankings. A key listed twice in one list
// counts at its first (best) place. Hits come best first; equal fused
// scores go to the key with the better single rank, then the better vector
// rank, then the one met first (vector list, then text list), so the order
// is fully determined by the inputs.
func Fuse[K comparable](vector, text []Scored[K], o Options) ([]Hit[K], error) {
	if !(o.Weight >= 0 && o.Weight <= 1) {
		return nil, fmt.Errorf("fusion: weight %v is not in [0, 1]", o.Weight)
	}
	k := o.K
	if k == 0 {
		k = DefaultK
	}
	if !(k > 0) || math.IsInf(k, 1) {
		return nil, fmt.Errorf("fusion: rank constant %v is not positive", o.K)
	}
	if o.Limit < 0 {
		return nil, fmt.Errorf("fusion: limit %d", o.Limit)
	}
	at := make(map[K]int, len(vector)+len(text)) // key -> index in hits
	hits := make([]Hit[K], 0, len(vector)+len(text))
	for i, s := range vector {
		if _, dup := at[s.Key]; dup {
			continue
		}
		at[s.Key] = len(hits)
		hits = append(hits, Hit[K]{Key: s.Key, VectorRank: i + 1, VectorScore: s.Score})
	}
	for i, s := range text {
		j, ok := at[s.Key]
		if !ok {
			j = len(hits)
			at[s.Key] = j
			hits = append(hits, Hit[K]{Key: s.Key})
		}
		if hits[j].TextRank == 0 {
			hits[j].TextRank, hits[j].TextScore = i+1, s.Score
		}
	}
	for i := range hits {
		h := &hits[i]
		if h.VectorRank > 0 {
			h.Score += o.Weight / (k + float64(h.VectorRank))
		}
		if h.TextRank > 0 {
			h.Score += (1 - o.Weight) / (k + float64(h.TextRank))
		}
	}
	order := make([]int, len(hits)) // stable tie-break: first met first
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		x, y := &hits[a], &hits[b]
		switch {
		case x.Score != y.Score:
			if x.Score > y.Score {
				return -1
			}
			return 1
		case best(x) != best(y):
			return best(x) - best(y)
		case x.VectorRank != y.VectorRank:
			return rankOrder(x.VectorRank) - rankOrder(y.VectorRank)
		}
		return a - b
	})
	n := len(order)
	if o.Limit > 0 {
		n = min(n, o.Limit)
	}
	out := make([]Hit[K], n)
	for i := range out {
		out[i] = hits[order[i]]
		out[i].Rank = i + 1
	}
	return out, nil
}

// rankOrder makes "absent" (0) sort after every rank.
func rankOrder(r int) int {
	if r == 0 {
		return math.MaxInt32
	}
	return r
}

func best[K comparable](h *Hit[K]) int { return min(rankOrder(h.VectorRank), rankOrder(h.TextRank)) }
