package fulltext

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"sync"
)

// Segment is a serialized segment opened for search. It reads the bytes in
// place (they may be an mmap) and decodes only what a query touches: a
// binary search in the term table per query term, then those terms'
// postings. The bytes must not change while the Segment is in use. A
// Segment is safe for concurrent use.
type Segment struct {
	h         header
	docLens   []byte
	table     []byte
	termBytes []byte
	postings  []byte

	blockMax sync.Map // term index -> []blockMax, computed as searches need them (blockmax.go)
}

// Open checks data's header, length and checksum and returns the segment.
// Malformed bytes give an error wrapping ErrCorrupt, whether here or, for
// damage the checksum cannot see (a segment written wrong), from a later
// search; never a panic.
func Open(data []byte) (*Segment, error) {
	h, err := decodeHeader(data)
	if err != nil {
		return nil, err
	}
	l, err := layoutOf(h)
	if err != nil {
		return nil, err
	}
	if uint64(len(data)) != l.end {
		if uint64(len(data)) < l.end {
			return nil, corrupt("truncated: %d bytes, the header says %d", len(data), l.end)
		}
		return nil, corrupt("%d bytes, the header says %d", len(data), l.end)
	}
	if got := crc32.Checksum(data[headerSize:], castagnoli); got != h.bodyCRC {
		return nil, corrupt("body checksum %08x, the header says %08x", got, h.bodyCRC)
	}
	s := &Segment{
		h:         h,
		docLens:   data[l.docLens:l.table],
		table:     data[l.table:l.termBytes],
		termBytes: data[l.termBytes:l.postings],
		postings:  data[l.postings:l.end],
	}
	sent := s.rawEntry(int(h.terms))
	if uint64(sent.termOff) != h.termBytesLen || sent.postOff != h.postingsLen {
		return nil, corrupt("term table sentinel (%d, %d) does not end the sections (%d, %d)",
			sent.termOff, sent.postOff, h.termBytesLen, h.postingsLen)
	}
	return s, nil
}

// Docs is the number of documents in the segment.
func (s *Segment) Docs() int64 { return int64(s.h.docs) }

// Tokens is the number of tokens over all its documents.
func (s *Segment) Tokens() int64 { return int64(s.h.tokens) }

// Terms is the number of distinct terms.
func (s *Segment) Terms() int { return int(s.h.terms) }

// DocSpan is one more than the largest doc number.
func (s *Segment) DocSpan() uint32 { return s.h.docSpan }

// DocLen is the number of tokens of doc n (0 for a number never added).
func (s *Segment) DocLen(n uint32) (uint32, error) {
	if n >= s.h.docSpan {
		return 0, fmt.Errorf("fulltext: doc %d is beyond the segment's %d", n, s.h.docSpan)
	}
	return binary.LittleEndian.Uint32(s.docLens[4*n:]), nil
}

type entry struct {
	termOff, df  uint32
	postOff      uint64
	maxTF, minDL uint32
}

func (s *Segment) rawEntry(i int) entry {
	b := s.table[entrySize*i : entrySize*(i+1)]
	le := binary.LittleEndian
	return entry{
		termOff: le.Uint32(b),
		df:      le.Uint32(b[4:]),
		postOff: le.Uint64(b[8:]),
		maxTF:   le.Uint32(b[16:]),
		minDL:   le.Uint32(b[20:]),
	}
}

// term returns the bytes of term i, checking its offsets.
func (s *Segment) term(i int) ([]byte, error) {
	lo := binary.LittleEndian.Uint32(s.table[entrySize*i:])
	hi := binary.LittleEndian.Uint32(s.table[entrySize*(i+1):])
	if lo > hi || uint64(hi) > uint64(len(s.termBytes)) {
		return nil, corrupt("term %d spans bytes %d to %d of %d", i, lo, hi, len(s.termBytes))
	}
	return s.termBytes[lo:hi], nil
}

// find returns the index of term in the table, or -1.
func (s *Segment) find(term string) (int, error) {
	lo, hi := 0, int(s.h.terms)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		t, err := s.term(m)
		if err != nil {
			return -1, err
		}
		switch c := strings.Compare(string(t), term); {
		case c == 0:
			return m, nil
		case c < 0:
			lo = m + 1
		default:
			hi = m
		}
	}
	return -1, nil
}

// termInfo is what a query needs of one term in this segment.
type termInfo struct {
	id           int // the term's index in a segment's table
	df           uint32
	maxTF, minDL uint32
	skips        []byte // nil when the postings are one block
	blocks       []byte
}

// lookup finds term; ok is false when the segment does not hold it.
func (s *Segment) lookup(term string) (ti termInfo, ok bool, err error) {
	i, err := s.find(term)
	if err != nil || i < 0 {
		return ti, false, err
	}
	ti, err = s.info(i)
	return ti, err == nil, err
}

func (s *Segment) info(i int) (termInfo, error) {
	e, next := s.rawEntry(i), s.rawEntry(i+1)
	if e.postOff > next.postOff || next.postOff > uint64(len(s.postings)) {
		return termInfo{}, corrupt("postings of term %d span bytes %d to %d of %d", i, e.postOff, next.postOff, len(s.postings))
	}
	if e.df == 0 || uint64(e.df) > s.h.docs || e.maxTF == 0 {
		return termInfo{}, corrupt("term %d: df %d, max tf %d in %d documents", i, e.df, e.maxTF, s.h.docs)
	}
	p := s.postings[e.postOff:next.postOff]
	ti := termInfo{id: i, df: e.df, maxTF: e.maxTF, minDL: e.minDL}
	if e.df > s.h.blockSize {
		n := uint64((e.df + s.h.blockSize - 1) / s.h.blockSize)
		if n*skipSize > uint64(len(p)) {
			return termInfo{}, corrupt("term %d: %d skip entries in %d bytes", i, n, len(p))
		}
		ti.skips, p = p[:n*skipSize], p[n*skipSize:]
	}
	ti.blocks = p
	return ti, nil
}

// Stats returns the segment's corpus statistics with the document
// frequencies of terms (0 for terms it does not hold), for merging with
// other segments' (MergeStats).
func (s *Segment) Stats(terms []string) (Stats, error) { return indexStats(s, terms) }

// Verify decodes the whole segment: terms strictly sorted, every term's
// postings and skip table consistent with its df, max tf and min length,
// and the document lengths adding up to the token count. Open checks only
// what it must to search safely; Verify is for tests, fuzzing and
// `lake verify`-style audits.
func (s *Segment) Verify() error {
	if err := s.CheckTokens(); err != nil {
		return err
	}
	var prev []byte
	for i := 0; i < int(s.h.terms); i++ {
		t, err := s.term(i)
		if err != nil {
			return err
		}
		if len(t) == 0 || (i > 0 && string(prev) >= string(t)) {
			return corrupt("term %d %q is not after %q", i, t, prev)
		}
		prev = t
		ti, err := s.info(i)
		if err != nil {
			return err
		}
		p := s.cursor(ti)
		var maxTF uint32
		minDL := ^uint32(0)
		count := uint32(0)
		for p.next() {
			count++
			maxTF = max(maxTF, p.tf)
			dl, _ := s.DocLen(p.doc)
			minDL = min(minDL, dl)
			if p.tf > dl {
				return corrupt("term %q: tf %d in doc %d of %d tokens", t, p.tf, p.doc, dl)
			}
			if ti.skips != nil && count%s.h.blockSize == 0 || count == ti.df {
				if err := p.checkBlockEnd(count); err != nil {
					return fmt.Errorf("term %q: %w", t, err)
				}
			}
		}
		if p.err != nil {
			return fmt.Errorf("term %q: %w", t, p.err)
		}
		if count != ti.df || maxTF != ti.maxTF || minDL != ti.minDL {
			return corrupt("term %q: %d postings, max tf %d, min length %d; the table says %d, %d, %d",
				t, count, maxTF, minDL, ti.df, ti.maxTF, ti.minDL)
		}
	}
	return nil
}

func (s *Segment) docLen(doc uint32) uint32 { return binary.LittleEndian.Uint32(s.docLens[4*doc:]) }

func (s *Segment) counts() (docs, tokens uint64) { return s.h.docs, s.h.tokens }

// CheckTokens checks that the document lengths add up to the token count
// of the header (Tokens), which Open does not: a reader that scores with
// the segment's stored statistics (Stats) in place of counting its
// documents (StatsAllowed) checks it once, as the segment loads, so that
// both give the same average length. One pass over the lengths; no
// postings are read.
func (s *Segment) CheckTokens() error {
	var tokens uint64
	for n := uint32(0); n < s.h.docSpan; n++ {
		tokens += uint64(binary.LittleEndian.Uint32(s.docLens[4*n:]))
	}
	if tokens != s.h.tokens {
		return corrupt("document lengths add up to %d tokens, the header says %d", tokens, s.h.tokens)
	}
	return nil
}
