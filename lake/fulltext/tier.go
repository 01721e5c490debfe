package fulltext

import (
	"cmp"
	"fmt"
	"slices"
)

// SourcedHit is a hit of SearchAll: the index of the Searcher it came from
// and the hit there.
type SourcedHit struct {
	Source int
	Hit
}

// SearchAll searches several Searchers (a tier's segments and the Texts of
// its uncovered files) as one corpus: with o.Stats when given, otherwise
// with their statistics merged, so scores compare across them; then it
// keeps the k best over all, best first (equal scores by source, then doc).
// The caller makes sure no document is in two of them (a segment covers
// some files, Texts the others).
func SearchAll(q Query, o Options, srcs ...Searcher) ([]SourcedHit, error) {
	if o.Stats == nil {
		terms := distinct(q.Terms)
		all := make([]Stats, len(srcs))
		for i, s := range srcs {
			st, err := s.Stats(terms)
			if err != nil {
				return nil, fmt.Errorf("fulltext: statistics of source %d: %w", i, err)
			}
			all[i] = st
		}
		merged := MergeStats(all...)
		o.Stats = &merged
	}
	k := o.K
	if k == 0 {
		k = 10
	}
	var out []SourcedHit
	for i, s := range srcs {
		hits, err := s.Search(q, o)
		if err != nil {
			return nil, fmt.Errorf("fulltext: search source %d: %w", i, err)
		}
		for _, h := range hits {
			out = append(out, SourcedHit{Source: i, Hit: h})
		}
	}
	slices.SortFunc(out, func(a, b SourcedHit) int {
		switch {
		case a.Score != b.Score:
			if a.Score > b.Score {
				return -1
			}
			return 1
		case a.Source != b.Source:
			return a.Source - b.Source
		}
		return cmp.Compare(a.Doc, b.Doc)
	})
	if len(out) > k {
		out = out[:k]
	}
	return out, nil
}

func distinct(terms []string) []string {
	var out []string
	for _, t := range terms {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}
