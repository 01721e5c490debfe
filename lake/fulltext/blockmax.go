package fulltext

import (
	"cmp"
	"encoding/binary"
	"slices"
)

// Block-max pruning (issue 23). A term's bound (maxTF and minDL in the term
// table) holds for every document of the segment; with fleet-like texts,
// where the query terms are in nearly every document, it prunes little,
// and the OR search scores nearly every document. The same bound taken per
// skip block (the largest contribution among its postings) is tighter:
// searchAny skips a run of documents, without decoding or scoring them,
// when the blocks covering it cannot together lift a document above the
// k-th score (Ding & Suel's block-max idea, over MaxScore's lists).
//
// The segment format has no per-block bounds, so a segment computes a
// term's the first time a search needs them (one walk of its postings) and
// keeps them: 8 bytes per block of blockSize postings and 8 per pair of
// its frontier (a few), some percent of the postings' size when every term
// has been searched.

// blockMaxes are a term's per-block bound inputs: per skip block its last
// doc, and the Pareto frontier of its postings' (tf, document length)
// pairs (no other posting of the block has both a larger or equal tf and
// a shorter or equal document). A contribution grows with tf and shrinks
// with length, so the largest contribution in a block, under any
// statistics, is at one of its frontier's pairs: usually a handful, and a
// bound much tighter than the block's largest tf with its shortest
// document, which are rarely one posting's.
type blockMaxes struct {
	last  []uint32 // per block
	start []uint32 // per block, its first pair in pairs; one more entry ends the last
	pairs []tfLen
}

type tfLen struct{ tf, dl uint32 }

// blockMaxima returns the per-block bounds of term i (ti its info), computed
// once and kept; nil for a term without a skip table (one block: its
// table bound is its block's) or whose postings are corrupt (the search's
// own cursor reports that).
func (s *Segment) blockMaxima(i int, ti termInfo) *blockMaxes {
	if ti.skips == nil {
		return nil
	}
	if v, ok := s.blockMax.Load(i); ok {
		return v.(*blockMaxes)
	}
	nb := len(ti.skips) / skipSize
	bm := &blockMaxes{last: make([]uint32, 0, nb), start: make([]uint32, 0, nb+1)}
	bs := int(s.h.blockSize)
	block := make([]tfLen, 0, bs)
	flush := func(last uint32) {
		// Shortest first (the larger tf first among equal lengths); a pair
		// is on the frontier when its tf beats every shorter one's.
		slices.SortFunc(block, func(a, b tfLen) int {
			if a.dl != b.dl {
				return cmp.Compare(a.dl, b.dl)
			}
			return cmp.Compare(b.tf, a.tf)
		})
		bm.start = append(bm.start, uint32(len(bm.pairs)))
		best := uint32(0)
		for _, p := range block {
			if p.tf > best {
				bm.pairs = append(bm.pairs, p)
				best = p.tf
			}
		}
		bm.last = append(bm.last, last)
		block = block[:0]
	}
	c := s.cursor(ti)
	n := 0
	for c.next() {
		block = append(block, tfLen{c.tf, s.docLen(c.doc)})
		n++
		if n%bs == 0 || n == int(ti.df) {
			flush(c.doc)
		}
	}
	if c.err != nil || n != int(ti.df) || len(bm.last) != nb {
		return nil
	}
	bm.start = append(bm.start, uint32(len(bm.pairs)))
	for j, last := range bm.last {
		if binary.LittleEndian.Uint32(ti.skips[j*skipSize:]) != last {
			return nil // a skip table that disagrees with its postings: no pruning by it
		}
	}
	v, _ := s.blockMax.LoadOrStore(i, bm)
	return v.(*blockMaxes)
}

// blockBounds is a cursor's per-block bounds under one query's scorer.
type blockBounds struct {
	last  []uint32  // per block, its last doc
	bound []float64 // per block, the bound of the term's contribution (times its count in the query)
	at    int       // the block a lookup starts from
}

func newBlockBounds(sc *scorer, term int, mult float64, bm *blockMaxes) *blockBounds {
	b := &blockBounds{last: bm.last, bound: make([]float64, len(bm.last))}
	for j := range bm.last {
		m := 0.0
		for _, p := range bm.pairs[bm.start[j]:bm.start[j+1]] {
			m = max(m, sc.bound(term, p.tf, p.dl))
		}
		b.bound[j] = m * mult
	}
	return b
}

// of returns the bound of the block that may hold doc (the first whose
// last doc is not below it: every posting of the term from doc to that
// last doc is in it) and that block's last doc; ok false when doc is past
// the last block (the term holds no document from doc on). Asked mostly
// in increasing doc order, it walks on from the last answer.
func (b *blockBounds) of(doc uint32) (bound float64, last uint32, ok bool) {
	if b.at > 0 && b.last[b.at-1] >= doc {
		b.at = 0 // asked behind the last answer: search again from the start
	}
	for step := 1; b.at < len(b.last) && b.last[b.at] < doc; {
		// Gallop: the next answer is usually near.
		if j := b.at + step; j < len(b.last) && b.last[j] < doc {
			b.at, step = j+1, step*2
			continue
		}
		b.at++
		step = 1
	}
	if b.at == len(b.last) {
		return 0, 0, false
	}
	return b.bound[b.at], b.last[b.at], true
}
