package fulltext

import (
	"fmt"
	"slices"
	"sort"
	"sync/atomic"
)

// blockSkips counts the runs of documents block-max pruning skipped (tests
// check it prunes).
var blockSkips atomic.Int64

// Match says which documents a query selects.
type Match int

const (
	// MatchAll selects documents holding every query term: FTS5's meaning of
	// a bare multi-word query ("a b" is "a AND b"), and the one BENCHMARKS.md
	// compares with it.
	MatchAll Match = iota
	// MatchAny selects documents holding at least one: better recall, which
	// is what hybrid search wants of its text side (FTS5's "a OR b").
	MatchAny
)

func (m Match) String() string {
	switch m {
	case MatchAll:
		return "all"
	case MatchAny:
		return "any"
	}
	return fmt.Sprintf("Match(%d)", int(m))
}

// Query is a bag of terms. A term given twice counts twice, as a word
// repeated in an FTS5 query does (two phrases, each scored).
type Query struct {
	Terms []string // already tokenized (ParseQuery)
	Match Match
}

// ParseQuery tokenizes text as documents are tokenized. There is no query
// syntax: quotes, parentheses, AND/OR/NOT and NEAR are words or separators
// like any other; m says how the terms combine.
func ParseQuery(text string, m Match) Query {
	return Query{Terms: Tokens(text), Match: m}
}

// prepared is a query with its distinct terms numbered.
type prepared struct {
	terms []string  // distinct, in order of first appearance
	mult  []float64 // how many times each is in the query
	seq   []int     // Query.Terms as indexes into terms, for summing in query order
	match Match
}

func prepare(q Query) (*prepared, error) {
	if q.Match != MatchAll && q.Match != MatchAny {
		return nil, fmt.Errorf("fulltext: unknown match %d", int(q.Match))
	}
	p := &prepared{match: q.Match, seq: make([]int, len(q.Terms))}
	for i, t := range q.Terms {
		j := slices.Index(p.terms, t) // queries have a handful of terms
		if j < 0 {
			j = len(p.terms)
			p.terms = append(p.terms, t)
			p.mult = append(p.mult, 0)
		}
		p.mult[j]++
		p.seq[i] = j
	}
	return p, nil
}

// Options tune a search.
type Options struct {
	// K is the number of hits wanted; 0 means 10.
	K int
	// BM25 parameters; the zero value means DefaultBM25.
	BM25 BM25
	// Stats to score against; nil means the searched documents' own. Give a
	// tier's merged statistics to make scores compare across its segments.
	// They must hold the document frequency of every query term.
	Stats *Stats
	// Allow, when set, admits documents by number: a filter evaluated inside
	// the search, so that k hits come back when k admitted documents match
	// (filtering the top k afterwards could leave none). It is called once
	// at most once per matching document, in doc order, from the searching
	// goroutine.
	Allow func(doc uint32) bool
}

// Hit is one matching document and its BM25 score (higher is better; FTS5's
// bm25() returns the same number negated).
type Hit struct {
	Doc   uint32
	Score float64
}

// Searcher is what a tier's search runs over: index segments and the exact
// scorer of documents no segment covers (Texts).
type Searcher interface {
	Stats(terms []string) (Stats, error)
	Search(q Query, o Options) ([]Hit, error)
}

// index is what the search needs of a set of documents: a Segment, or the
// Builder behind Texts (whose postings are the same bytes without skip
// tables), so both score through the same code.
type index interface {
	counts() (docs, tokens uint64)
	lookup(term string) (termInfo, bool, error)
	cursor(ti termInfo) cursor
	docLen(doc uint32) uint32 // doc is below the span: cursors check it
}

// indexStats is Stats for an index.
func indexStats(ix index, terms []string) (Stats, error) {
	docs, tokens := ix.counts()
	st := Stats{Docs: int64(docs), Tokens: int64(tokens), DF: make(map[string]int64, len(terms))}
	for _, t := range terms {
		if _, seen := st.DF[t]; seen {
			continue
		}
		ti, ok, err := ix.lookup(t)
		if err != nil {
			return Stats{}, err
		}
		st.DF[t] = 0
		if ok {
			st.DF[t] = int64(ti.df)
		}
	}
	return st, nil
}

// Search returns the k best documents of the segment for q, best first;
// equal scores in doc order.
func (s *Segment) Search(q Query, o Options) ([]Hit, error) { return search(s, q, o) }

func search(ix index, q Query, o Options) ([]Hit, error) {
	pq, err := prepare(q)
	if err != nil {
		return nil, err
	}
	k := o.K
	if k == 0 {
		k = 10
	}
	if k < 0 {
		return nil, fmt.Errorf("fulltext: k %d", k)
	}
	p, err := o.BM25.resolve()
	if err != nil {
		return nil, err
	}
	infos := make([]termInfo, len(pq.terms))
	found := make([]bool, len(pq.terms))
	for i, t := range pq.terms {
		if infos[i], found[i], err = ix.lookup(t); err != nil {
			return nil, err
		}
	}
	docs, tokens := ix.counts()
	var st Stats
	if o.Stats != nil {
		st = *o.Stats
	} else {
		st = Stats{Docs: int64(docs), Tokens: int64(tokens), DF: make(map[string]int64, len(pq.terms))}
		for i, t := range pq.terms {
			st.DF[t] = int64(infos[i].df) // 0 when not found
		}
	}
	if st.Docs == 0 || len(pq.terms) == 0 {
		return nil, nil
	}
	if st.Tokens == 0 && tokens > 0 {
		return nil, fmt.Errorf("fulltext: statistics of %d documents without tokens, for documents with %d", st.Docs, tokens)
	}
	sc, err := newScorer(pq, st, p)
	if err != nil {
		return nil, err
	}
	curs := make([]termCursor, 0, len(pq.terms))
	for i := range pq.terms {
		if !found[i] {
			if pq.match == MatchAll {
				return nil, nil
			}
			continue
		}
		c := termCursor{cursor: ix.cursor(infos[i]), term: i, mult: pq.mult[i]}
		c.bound = sc.bound(i, infos[i].maxTF, infos[i].minDL) * pq.mult[i]
		if seg, ok := ix.(*Segment); ok && pq.match == MatchAny {
			if bm := seg.blockMaxima(infos[i].id, infos[i]); bm != nil {
				c.blocks = newBlockBounds(sc, i, pq.mult[i], bm)
			}
		}
		curs = append(curs, c)
	}
	if len(curs) == 0 {
		return nil, nil
	}
	top := newTopK(k)
	if pq.match == MatchAll {
		err = searchAll(ix, pq, sc, curs, o.Allow, top)
	} else {
		err = searchAny(ix, pq, sc, curs, o.Allow, top)
	}
	if err != nil {
		return nil, err
	}
	return top.sorted(), nil
}

type termCursor struct {
	cursor
	term  int     // index into prepared.terms
	mult  float64 // its count in the query
	bound float64 // of its contributions to a score in this segment
	// blocks are its per-block bounds (blockmax.go); nil: bound for all.
	blocks *blockBounds
}

// score sums contributions in query order (FTS5's), repeated terms again.
func score(pq *prepared, contrib []float64) float64 {
	var sum float64
	for _, i := range pq.seq {
		sum += contrib[i]
	}
	return sum
}

// searchAll intersects the cursors, rarest first, each leapfrogging to the
// largest doc seen, and scores every document they all hold.
func searchAll(ix index, pq *prepared, sc *scorer, curs []termCursor, allow func(uint32) bool, top *topK) error {
	sort.Slice(curs, func(i, j int) bool { return curs[i].df < curs[j].df })
	contrib := make([]float64, len(pq.terms))
	lead := &curs[0]
	lead.next()
	for doc := lead.doc; doc != noDoc; {
		matched := true
		for i := 1; i < len(curs); i++ {
			c := &curs[i]
			c.advance(doc)
			if c.doc != doc {
				matched = false
				if c.doc == noDoc {
					doc = noDoc
				} else {
					lead.advance(c.doc)
					doc = lead.doc
				}
				break
			}
		}
		if !matched {
			continue
		}
		if allow == nil || allow(doc) {
			norm := sc.norm(ix.docLen(doc))
			for i := range curs {
				contrib[curs[i].term] = sc.contrib(curs[i].term, curs[i].tf, norm)
			}
			top.offer(doc, score(pq, contrib))
		}
		lead.next()
		doc = lead.doc
	}
	return cursorsErr(curs)
}

// searchAny is MaxScore (Turtle & Flood, 1995) over the cursors: sorted by
// their bound, the ones whose bounds add up to no more than the current
// k-th score cannot make a document enter the top k alone, so only the
// others ("essential") propose candidates, and a candidate stops being
// scored once what it has plus what it could still get is no better than
// the k-th. The hits are exactly the exhaustive search's: a document
// skipped scores at most the k-th score, and ties go to the lower doc
// number, which was offered first.
func searchAny(ix index, pq *prepared, sc *scorer, curs []termCursor, allow func(uint32) bool, top *topK) error {
	sort.Slice(curs, func(i, j int) bool { return curs[i].bound < curs[j].bound })
	// upto[i]: the bounds of curs[0..i] added up.
	upto := make([]float64, len(curs))
	sum := 0.0
	for i := range curs {
		sum += curs[i].bound
		upto[i] = sum
		curs[i].next()
	}
	contrib := make([]float64, len(pq.terms))
	essential := 0 // curs[essential:] propose candidates
	blocks := false
	for i := range curs {
		blocks = blocks || curs[i].blocks != nil
	}
	// A block-max check that did not skip holds until noSkipTo while the
	// k-th score is still noSkipAt.
	noSkipTo, noSkipAt := uint32(0), -1.0
	for {
		doc := uint32(noDoc)
		for i := essential; i < len(curs); i++ {
			doc = min(doc, curs[i].doc)
		}
		if doc == noDoc {
			break
		}
		if theta, _ := top.threshold(); blocks && (doc > noSkipTo || theta != noSkipAt) {
			last, skip := blockSkip(curs, essential, doc, top)
			if !skip {
				// The same blocks cover the documents up to last: no
				// skip there either until the k-th score rises.
				noSkipTo, noSkipAt = last, theta
			} else {
				// No document from doc to last can enter the top k: the
				// essential cursors move past them undecoded.
				for i := essential; i < len(curs); i++ {
					curs[i].advance(last + 1)
				}
				blockSkips.Add(1)
				continue
			}
		}
		if allow != nil && !allow(doc) {
			for i := essential; i < len(curs); i++ {
				if curs[i].doc == doc {
					curs[i].next()
				}
			}
			continue
		}
		norm := sc.norm(ix.docLen(doc))
		partial := 0.0
		for i := essential; i < len(curs); i++ {
			if c := &curs[i]; c.doc == doc {
				v := sc.contrib(c.term, c.tf, norm)
				contrib[c.term] = v
				partial += v * c.mult
				c.next()
			}
		}
		theta, full := top.threshold()
		ok := true
		for i := essential - 1; i >= 0; i-- {
			if full && partial+upto[i] <= theta {
				ok = false
				break
			}
			c := &curs[i]
			if c.advance(doc) && c.doc == doc {
				v := sc.contrib(c.term, c.tf, norm)
				contrib[c.term] = v
				partial += v * c.mult
			}
		}
		if ok && top.offer(doc, score(pq, contrib)) {
			if theta, full := top.threshold(); full {
				for essential < len(curs) && upto[essential] <= theta {
					essential++
				}
			}
		}
		clear(contrib)
	}
	return cursorsErr(curs)
}

// blockSkip is block-max pruning (blockmax.go) at searchAny's candidate
// doc: the documents from doc to last are all in one block of each term
// (the block of its cursor's doc for an essential cursor, which holds
// nothing between doc and that, and the block that may hold doc for the
// others), so none scores more than those blocks' bounds added up; skip
// says that sum is no more than the k-th score, so none can enter the top
// k (ties go to the lower doc, offered before). A term without blocks
// counts its whole bound and does not limit last. Before the top k is
// full, nothing is skipped and last is doc.
func blockSkip(curs []termCursor, essential int, doc uint32, top *topK) (last uint32, skip bool) {
	theta, full := top.threshold()
	if !full {
		return doc, false
	}
	ub, last := 0.0, uint32(noDoc-1)
	for i := range curs {
		c := &curs[i]
		from := doc
		if i >= essential {
			if from = c.doc; from == noDoc {
				continue // exhausted: holds nothing from doc on
			}
		}
		if c.blocks == nil {
			ub += c.bound
			continue
		}
		b, l, ok := c.blocks.of(from)
		if !ok {
			continue
		}
		ub += b
		last = min(last, l)
	}
	return last, ub <= theta
}

func cursorsErr(curs []termCursor) error {
	for i := range curs {
		if curs[i].err != nil {
			return curs[i].err
		}
	}
	return nil
}

// topK keeps the k best hits seen: a min-heap whose root is the worst kept
// (lowest score; among equal scores the highest doc).
type topK struct {
	k int
	h []Hit
}

func newTopK(k int) *topK { return &topK{k: k, h: make([]Hit, 0, min(k, 1024))} }

func worse(a, b Hit) bool { return a.Score < b.Score || (a.Score == b.Score && a.Doc > b.Doc) }

// threshold is the k-th best score once k hits are kept.
func (t *topK) threshold() (float64, bool) {
	if len(t.h) < t.k || t.k == 0 {
		return 0, t.k == 0
	}
	return t.h[0].Score, true
}

// offer keeps (doc, score) if it is among the k best so far.
func (t *topK) offer(doc uint32, score float64) bool {
	hit := Hit{Doc: doc, Score: score}
	if len(t.h) < t.k {
		t.h = append(t.h, hit)
		t.up(len(t.h) - 1)
		return true
	}
	if t.k == 0 || !worse(t.h[0], hit) {
		return false
	}
	t.h[0] = hit
	t.down(0)
	return true
}

func (t *topK) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !worse(t.h[i], t.h[p]) {
			return
		}
		t.h[i], t.h[p] = t.h[p], t.h[i]
		i = p
	}
}

func (t *topK) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(t.h) {
			return
		}
		m := l
		if r := l + 1; r < len(t.h) && worse(t.h[r], t.h[l]) {
			m = r
		}
		if !worse(t.h[m], t.h[i]) {
			return
		}
		t.h[i], t.h[m] = t.h[m], t.h[i]
		i = m
	}
}

// sorted returns the kept hits best first.
func (t *topK) sorted() []Hit {
	out := slices.Clone(t.h)
	slices.SortFunc(out, func(a, b Hit) int {
		switch {
		case worse(b, a):
			return -1
		case worse(a, b):
			return 1
		}
		return 0
	})
	return out
}
