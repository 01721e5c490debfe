package fulltext

import "encoding/binary"

// Block-max pruning (issue 23). A term's bound (maxTF and minDL in the term
// table) holds for every document of the segment; with fleet-like texts,
// where the query terms are in nearly every document, it prunes little,
// and the OR search scores nearly every document. The same bound taken per
// skip block (the block's largest tf and shortest document) is tighter:
// searchAny skips a run of documents, without decoding or scoring them,
// when the blocks covering it cannot together lift a document above the
// k-th score (Ding & Suel's block-max idea, over MaxScore's lists).
//
// The segment format has no per-block bounds, so a segment computes a
// term's the first time a search needs them (one walk of its postings) and
// keeps them: 12 bytes per block of blockSize postings, about 5% of the
// postings' size when every term has been searched.

// blockMax is one skip block's bound inputs: its last doc, and the largest
// tf and the shortest document among its postings.
type blockMax struct {
	last, maxTF, minDL uint32
}

// blockMaxima returns the per-block bounds of term i (ti its info), computed
// once and kept; nil for a term without a skip table (one block: its
// table bound is its block's) or whose postings are corrupt (the search's
// own cursor reports that).
func (s *Segment) blockMaxima(i int, ti termInfo) []blockMax {
	if ti.skips == nil {
		return nil
	}
	if v, ok := s.blockMax.Load(i); ok {
		return v.([]blockMax)
	}
	nb := len(ti.skips) / skipSize
	out := make([]blockMax, nb)
	c := s.cursor(ti)
	n := 0
	for c.next() {
		b := &out[n/int(s.h.blockSize)]
		if n%int(s.h.blockSize) == 0 {
			b.minDL = ^uint32(0)
		}
		b.maxTF, b.minDL, b.last = max(b.maxTF, c.tf), min(b.minDL, s.docLen(c.doc)), c.doc
		n++
	}
	if c.err != nil || n != int(ti.df) {
		return nil
	}
	for j := range out {
		if binary.LittleEndian.Uint32(ti.skips[j*skipSize:]) != out[j].last {
			return nil // a skip table that disagrees with its postings: no pruning by it
		}
	}
	v, _ := s.blockMax.LoadOrStore(i, out)
	return v.([]blockMax)
}

// blockBounds is a cursor's per-block bounds under one query's scorer.
type blockBounds struct {
	last  []uint32  // per block, its last doc
	bound []float64 // per block, the bound of the term's contribution (times its count in the query)
	at    int       // the block a shallow lookup starts from (docs asked only increase)
}

func newBlockBounds(sc *scorer, term int, mult float64, bm []blockMax) *blockBounds {
	b := &blockBounds{last: make([]uint32, len(bm)), bound: make([]float64, len(bm))}
	for j, x := range bm {
		b.last[j] = x.last
		b.bound[j] = sc.bound(term, x.maxTF, x.minDL) * mult
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
