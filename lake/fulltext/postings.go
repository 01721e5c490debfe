package fulltext

import (
	"encoding/binary"
	"math"
)

// noDoc is a cursor's doc once its postings are exhausted: greater than any
// doc number (they are below maxDocSpan).
const noDoc = math.MaxUint32

// cursor walks one term's postings in doc order. Every step bounds-checks
// the bytes and keeps docs strictly increasing, so corrupt postings end the
// walk with err set (a loop over cursors always terminates), never a panic.
type cursor struct {
	data     []byte // the blocks
	skips    []byte // the skip table, nil for one block
	pos      int    // next byte of data
	base     uint64 // the smallest doc the next posting can have
	left     uint32 // postings not yet decoded
	df       uint32
	bs       uint32 // block size
	docSpan  uint32
	doc, tf  uint32 // the current posting; doc is noDoc before next and after the end
	err      error
	skipNext int // the first skip entry not yet jumped past
}

func (s *Segment) cursor(ti termInfo) cursor {
	return cursor{data: ti.blocks, skips: ti.skips, left: ti.df, df: ti.df, bs: s.h.blockSize,
		docSpan: s.h.docSpan, doc: noDoc}
}

// next moves to the next posting; false at the end or on corrupt bytes.
func (c *cursor) next() bool {
	if c.left == 0 {
		if c.pos != len(c.data) && c.err == nil {
			c.err = corrupt("%d bytes after the last posting", len(c.data)-c.pos)
		}
		c.doc = noDoc
		return false
	}
	v, ok := c.uvarint()
	if !ok {
		return false
	}
	tf := uint64(1)
	if v&1 == 0 {
		if tf, ok = c.uvarint(); !ok {
			return false
		}
		if tf < 2 || tf > math.MaxUint32 {
			return c.fail(corrupt("term frequency %d written long", tf))
		}
	}
	doc := c.base + v>>1
	if doc >= uint64(c.docSpan) || doc < c.base { // the second: wrapped around
		return c.fail(corrupt("doc %d beyond the segment's %d", doc, c.docSpan))
	}
	c.doc, c.tf = uint32(doc), uint32(tf)
	c.base = doc + 1
	c.left--
	return true
}

func (c *cursor) uvarint() (uint64, bool) {
	if c.pos < len(c.data) && c.data[c.pos] < 0x80 { // most postings: one byte
		v := uint64(c.data[c.pos])
		c.pos++
		return v, true
	}
	v, n := binary.Uvarint(c.data[min(c.pos, len(c.data)):])
	if n <= 0 {
		c.fail(corrupt("bad varint at byte %d of %d", c.pos, len(c.data)))
		return 0, false
	}
	c.pos += n
	return v, true
}

func (c *cursor) fail(err error) bool {
	if c.err == nil {
		c.err = err
	}
	c.left, c.pos, c.doc = 0, len(c.data), noDoc
	return false
}

// advance moves to the first posting with doc >= target (staying put when
// the current one is); false at the end. Skip entries let it jump over
// whole blocks without decoding them.
func (c *cursor) advance(target uint32) bool {
	if c.doc != noDoc && c.doc >= target {
		return true
	}
	if c.skips != nil && uint64(target) > c.base {
		c.skipTo(target)
	}
	for c.next() {
		if c.doc >= target {
			return true
		}
	}
	return false
}

// skipTo jumps to the start of the block that may hold target: past every
// block whose last doc is below it.
func (c *cursor) skipTo(target uint32) {
	nb := len(c.skips) / skipSize
	i := c.skipNext
	// Blocks are few (df/128) and the target is usually near: gallop, then
	// bisect.
	step := 1
	for i+step < nb && binary.LittleEndian.Uint32(c.skips[(i+step)*skipSize:]) < target {
		i += step
		step *= 2
	}
	lo, hi := i, min(i+step, nb)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if binary.LittleEndian.Uint32(c.skips[m*skipSize:]) < target {
			lo = m + 1
		} else {
			hi = m
		}
	}
	// lo is the first block whose last doc is >= target (nb when none
	// is): start after the block before it, unless the cursor is there
	// already.
	c.skipNext = lo
	skipped := min(uint64(lo)*uint64(c.bs), uint64(c.df))
	if lo == 0 || skipped <= uint64(c.df-c.left) {
		return
	}
	e := c.skips[(lo-1)*skipSize:]
	last := uint64(binary.LittleEndian.Uint32(e))
	end := uint64(binary.LittleEndian.Uint32(e[4:]))
	if last+1 < c.base || end < uint64(c.pos) || end > uint64(len(c.data)) {
		c.fail(corrupt("skip entry %d (doc %d, byte %d) is behind doc %d, byte %d", lo-1, last, end, c.base, c.pos))
		return
	}
	c.base, c.pos = last+1, int(end)
	c.left = c.df - uint32(skipped)
}

// checkBlockEnd is Verify's check after the count-th posting, the last of a
// block or of the postings: the skip entry, if any, names this doc and byte.
func (c *cursor) checkBlockEnd(count uint32) error {
	if c.skips != nil {
		b := int((count - 1) / c.bs)
		e := c.skips[b*skipSize:]
		if last, end := binary.LittleEndian.Uint32(e), binary.LittleEndian.Uint32(e[4:]); last != c.doc || int(end) != c.pos {
			return corrupt("skip entry %d says doc %d at byte %d; the postings have doc %d at byte %d", b, last, end, c.doc, c.pos)
		}
	}
	if count == c.df && c.pos != len(c.data) {
		return corrupt("%d bytes after the last posting", len(c.data)-c.pos)
	}
	return nil
}
