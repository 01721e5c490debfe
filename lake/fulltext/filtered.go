package fulltext

import "fmt"

// StatsAllowed is Stats over the documents allow admits only: their number,
// their tokens, and the document frequencies of terms among them. A reader
// that searches a segment with a filter (a tenant's systems, the live
// files, the latest versions) gives these to MergeStats, so that the
// scores are those of an index of exactly the admitted documents: the
// documents a filter hides weigh on no score, as they would not if the
// admitted ones were scored exactly (Texts).
//
// It costs one call of allow per doc number below the span and a walk of
// the terms' postings; no document text is read. Every number below the
// span counts as a document when admitted: allow must refuse numbers never
// added (the index job's segments have none). A nil allow is Stats.
func (s *Segment) StatsAllowed(terms []string, allow func(doc uint32) bool) (Stats, error) {
	if allow == nil {
		return s.Stats(terms)
	}
	st := Stats{DF: make(map[string]int64, len(terms))}
	for d := range s.h.docSpan {
		if allow(d) {
			st.Docs++
			st.Tokens += int64(s.docLen(d))
		}
	}
	for _, t := range terms {
		if _, seen := st.DF[t]; seen {
			continue
		}
		st.DF[t] = 0
		ti, ok, err := s.lookup(t)
		if err != nil {
			return Stats{}, err
		}
		if !ok {
			continue
		}
		// Counted aside: a map update per posting was half of this walk.
		c, df := s.cursor(ti), int64(0)
		for c.next() {
			if allow(c.doc) {
				df++
			}
		}
		if c.err != nil {
			return Stats{}, fmt.Errorf("fulltext: postings of %q: %w", t, c.err)
		}
		st.DF[t] = df
	}
	return st, nil
}

// Filtered is a Searcher over the documents of Seg that Allow admits: its
// statistics are StatsAllowed's and its searches admit only those
// documents, so SearchAll over Filtered segments and Texts scores the
// admitted documents as one corpus.
type Filtered struct {
	Seg   *Segment
	Allow func(doc uint32) bool
}

// Stats is Seg.StatsAllowed.
func (f Filtered) Stats(terms []string) (Stats, error) { return f.Seg.StatsAllowed(terms, f.Allow) }

// Search searches Seg admitting what Allow admits (and o.Allow, when set).
func (f Filtered) Search(q Query, o Options) ([]Hit, error) {
	if f.Allow != nil {
		if prev := o.Allow; prev != nil {
			o.Allow = func(d uint32) bool { return f.Allow(d) && prev(d) }
		} else {
			o.Allow = f.Allow
		}
	}
	return f.Seg.Search(q, o)
}
