package fulltext

import (
	"fmt"
	"math"
)

// Stats are the corpus statistics BM25 scores against: the number of
// documents, their total length in tokens (avgdl = Tokens/Docs) and the
// document frequency of each query term. A segment's scores depend on the
// statistics it is given, so segments of one tier searched with the tier's
// statistics (MergeStats of every segment's and of the uncovered documents')
// give scores that compare across segments, exactly the scores one segment
// of all those documents would give.
type Stats struct {
	Docs   int64
	Tokens int64
	DF     map[string]int64 // documents holding each term; the query's terms at least
}

// MergeStats adds up statistics of disjoint sets of documents.
func MergeStats(all ...Stats) Stats {
	out := Stats{DF: make(map[string]int64)}
	for _, s := range all {
		out.Docs += s.Docs
		out.Tokens += s.Tokens
		for t, n := range s.DF {
			out.DF[t] += n
		}
	}
	return out
}

// BM25 holds the ranking function's two parameters: K1, how quickly a
// term's repetitions saturate, and B, how much a document's length
// normalizes its score (0: not at all, 1: fully).
type BM25 struct {
	K1, B float64
}

// DefaultBM25 is FTS5's bm25() (and the usual choice in the literature).
var DefaultBM25 = BM25{K1: 1.2, B: 0.75}

func (p BM25) resolve() (BM25, error) {
	if p == (BM25{}) {
		return DefaultBM25, nil
	}
	if !(p.K1 >= 0 && p.K1 <= 1e6) || !(p.B >= 0 && p.B <= 1) { // also false for NaN
		return p, fmt.Errorf("fulltext: BM25 k1 %v, b %v: want k1 >= 0 and b in [0, 1]", p.K1, p.B)
	}
	return p, nil
}

// idf is FTS5's inverse document frequency: ln((N - df + 0.5)/(df + 0.5)),
// and 1e-6 where that is not positive (a term in more than half the
// documents), so that such a term still ranks a document that has it above
// one that does not, by a hair.
func idf(n, df int64) float64 {
	v := math.Log((float64(n) - float64(df) + 0.5) / (float64(df) + 0.5))
	if !(v > 0) {
		return 1e-6
	}
	return v
}

// scorer turns term frequencies into BM25 contributions for one query under
// one set of statistics. FTS5's formula, in its order of operations, so
// that scores agree to the last bits with bm25() where the statistics do:
//
//	idf * (tf*(k1+1)) / (tf + k1*(1 - b + b*dl/avgdl))
type scorer struct {
	p     BM25
	avgdl float64
	idf   []float64 // per distinct query term
}

func (s *scorer) norm(dl uint32) float64 {
	return s.p.K1 * (1 - s.p.B + s.p.B*float64(dl)/s.avgdl)
}

func (s *scorer) contrib(term int, tf uint32, norm float64) float64 {
	f := float64(tf)
	return s.idf[term] * ((f * (s.p.K1 + 1)) / (f + norm))
}

// bound is an upper bound of term's contribution to any document of a
// segment where it occurs at most maxTF times and in documents of at least
// minDL tokens: the contribution grows with tf and shrinks with dl. The
// margin covers rounding differences between sums taken in other orders.
func (s *scorer) bound(term int, maxTF, minDL uint32) float64 {
	return s.contrib(term, maxTF, s.norm(minDL)) * (1 + 1e-9)
}

func newScorer(q *prepared, st Stats, p BM25) (*scorer, error) {
	if st.Docs < 0 || st.Tokens < 0 {
		return nil, fmt.Errorf("fulltext: negative statistics (%d documents, %d tokens)", st.Docs, st.Tokens)
	}
	s := &scorer{p: p, idf: make([]float64, len(q.terms))}
	if st.Docs > 0 {
		s.avgdl = float64(st.Tokens) / float64(st.Docs)
	}
	for i, t := range q.terms {
		df, ok := st.DF[t]
		if !ok {
			return nil, fmt.Errorf("fulltext: statistics lack the document frequency of %q", t)
		}
		if df < 0 || df > st.Docs {
			return nil, fmt.Errorf("fulltext: document frequency %d of %q in %d documents", df, t, st.Docs)
		}
		s.idf[i] = idf(st.Docs, df)
	}
	return s, nil
}
