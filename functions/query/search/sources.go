package search

import (
	"slices"
	"sort"

	"github.com/akosha/akosha/lake/fulltext"
)

// RankSources returns the depth best hits of q over srcs, searched as one
// corpus (their statistics merged, fulltext.MergeStats), best first, equal
// scores by record key (keyOf): the order one exact index of the admitted
// records gives, whichever source a record is in. A source breaks its own
// ties by doc number, so when a source's last hit ties with the cut, the
// sources are asked again, deeper, until the tie is whole.
func RankSources(q fulltext.Query, depth int, srcs []fulltext.Searcher, keyOf func(src int, doc uint32) string) ([]fulltext.SourcedHit, error) {
	var terms []string
	for _, t := range q.Terms {
		if !slices.Contains(terms, t) {
			terms = append(terms, t)
		}
	}
	all := make([]fulltext.Stats, len(srcs))
	for i, s := range srcs {
		st, err := s.Stats(terms)
		if err != nil {
			return nil, err
		}
		all[i] = st
	}
	merged := fulltext.MergeStats(all...)
	type ranked struct {
		fulltext.SourcedHit
		key string
	}
	for k := depth; ; k *= 4 {
		var out []ranked
		lows := make([]float64, len(srcs)) // a full source's lowest score; -1: not full
		for i, s := range srcs {
			hs, err := s.Search(q, fulltext.Options{K: k, Stats: &merged})
			if err != nil {
				return nil, err
			}
			lows[i] = -1
			if len(hs) == k {
				lows[i] = hs[k-1].Score
			}
			for _, h := range hs {
				out = append(out, ranked{fulltext.SourcedHit{Source: i, Hit: h}, keyOf(i, h.Doc)})
			}
		}
		sort.Slice(out, func(a, b int) bool {
			if out[a].Score != out[b].Score {
				return out[a].Score > out[b].Score
			}
			return out[a].key < out[b].key
		})
		if len(out) > depth {
			out = out[:depth]
		}
		whole := true
		if len(out) == depth && k < 64*depth {
			cut := out[depth-1].Score
			for _, low := range lows {
				if low >= 0 && low >= cut {
					whole = false
				}
			}
		}
		if whole {
			hits := make([]fulltext.SourcedHit, len(out))
			for i, r := range out {
				hits[i] = r.SourcedHit
			}
			return hits, nil
		}
	}
}
