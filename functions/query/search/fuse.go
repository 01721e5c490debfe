package search

import (
	"fmt"

	"github.com/akosha/akosha/lake/fusion"
)

// HybridDepth is how deep each ranking goes before fusion: past k, so a
// record ranked modestly by both can rise above one ranked well by one.
func HybridDepth(k int) int { return min(MaxK, max(50, 2*k)) }

// Fuse merges the vector ranking vec and the text ranking text (each best
// first; a text result's BM25 holds its score) into the best k records by
// weighted reciprocal rank (lake/fusion; weight is the vector ranking's
// share). A record both rankings hold is shown as the vector ranking has
// it. Score and Rank become the fused ones; BM25 and VectorScore say what
// each ranking gave the record, absent when it did not hold it.
func Fuse(vec, text []Result, weight float64, k int) ([]Result, error) {
	vs := make([]fusion.Scored[string], len(vec))
	byKey := map[string]Result{}
	for i, r := range vec {
		key := r.SystemID + "/" + r.ID
		vs[i] = fusion.Scored[string]{Key: key, Score: float64(r.Score)}
		byKey[key] = r
	}
	ts := make([]fusion.Scored[string], len(text))
	for i, r := range text {
		key := r.SystemID + "/" + r.ID
		ts[i] = fusion.Scored[string]{Key: key, Score: *r.BM25}
		if _, ok := byKey[key]; !ok {
			byKey[key] = r
		}
	}
	fused, err := fusion.Fuse(vs, ts, fusion.Options{Weight: weight, K: fusion.DefaultK, Limit: k})
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	out := make([]Result, 0, len(fused))
	for _, h := range fused {
		r := byKey[h.Key]
		r.Score, r.Rank, r.BM25, r.VectorScore = float32(h.Score), h.Rank, nil, nil
		if h.TextRank > 0 {
			r.BM25 = ptr(h.TextScore)
		}
		if h.VectorRank > 0 {
			r.VectorScore = ptr(float32(h.VectorScore))
		}
		out = append(out, r)
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }
