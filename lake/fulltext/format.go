package fulltext

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// The serialized segment, version 1. Integers are little-endian.
//
//	off  size  header
//	  0     8  magic "AKOSHFTS"
//	  8     4  version (1)
//	 12     4  terms: entries in the term table, T
//	 16     8  documents (Stats.Docs)
//	 24     8  tokens over all documents (Stats.Tokens)
//	 32     4  doc span: doc numbers are below it, D
//	 36     4  postings per skip block, B (blockSize)
//	 40     8  length of the term bytes
//	 48     8  length of the postings
//	 56     4  CRC-32C of the body (every byte after the header)
//	 60     4  CRC-32C of bytes 0-59
//
// The body, sections back to back:
//
//	doc lengths  D uint32: tokens of each doc number (0 for numbers never added)
//	term table   T+1 entries of 24 bytes, sorted by term bytes; the last is a
//	             sentinel whose offsets are the section lengths:
//	               0  uint32 offset of the term in the term bytes
//	               4  uint32 document frequency (df)
//	               8  uint64 offset of the postings in the postings
//	              16  uint32 largest term frequency in the postings (maxTF)
//	              20  uint32 smallest doc length in the postings (minDL)
//	term bytes   the terms, concatenated (a term ends where the next starts)
//	postings     per term: when df > B a skip table, one entry per block of
//	             B postings, 8 bytes each (uint32 last doc of the block,
//	             uint32 end of the block relative to the end of the table);
//	             then the postings in doc order, each uvarint(gap<<1 | tf==1)
//	             followed, when tf != 1, by uvarint(tf); gap is the doc
//	             number minus one more than the previous doc (the previous
//	             block's last doc across a block boundary), so that a gap
//	             of 0 is the next number and the first posting's gap is its
//	             doc number.
//
// The file is exactly header + body bytes long, so a truncated object fails
// before its checksum is computed. maxTF and minDL make each term's
// contribution to a score boundable for any k1, b and corpus statistics
// (see bound): the OR search skips documents that cannot enter the top k.
//
// No positions are stored: the queries are bags of terms (no phrases, no
// NEAR), which is all BM25 ranking needs; FTS5's default (detail=full) keeps
// them, which BENCHMARKS.md's sizes reflect.
var magic = [8]byte{'A', 'K', 'O', 'S', 'H', 'F', 'T', 'S'}

const (
	formatVersion = 1
	headerSize    = 64
	entrySize     = 24
	skipSize      = 8
	// blockSize: postings between skip entries. At 128 a skip jumps over
	// about 200 bytes of postings, and the table costs 8 bytes per 128
	// postings (about 3%).
	blockSize = 128
)

// Limits that keep a corrupt header from making Open believe in sections
// larger than the bytes it was given (checked against the length anyway) or
// counts that overflow an int on 32-bit platforms.
const (
	maxDocSpan = 1 << 31
	maxTerms   = 1 << 31
)

// ErrCorrupt is wrapped by every error about malformed segment bytes.
var ErrCorrupt = errors.New("fulltext: corrupt segment")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type header struct {
	version      uint32
	terms        uint32
	docs, tokens uint64
	docSpan      uint32
	blockSize    uint32
	termBytesLen uint64
	postingsLen  uint64
	bodyCRC      uint32
}

func (h *header) encode() [headerSize]byte {
	var b [headerSize]byte
	le := binary.LittleEndian
	copy(b[0:8], magic[:])
	le.PutUint32(b[8:], formatVersion)
	le.PutUint32(b[12:], h.terms)
	le.PutUint64(b[16:], h.docs)
	le.PutUint64(b[24:], h.tokens)
	le.PutUint32(b[32:], h.docSpan)
	le.PutUint32(b[36:], h.blockSize)
	le.PutUint64(b[40:], h.termBytesLen)
	le.PutUint64(b[48:], h.postingsLen)
	le.PutUint32(b[56:], h.bodyCRC)
	le.PutUint32(b[60:], crc32.Checksum(b[:60], castagnoli))
	return b
}

func decodeHeader(b []byte) (header, error) {
	var h header
	if len(b) < headerSize {
		return h, corrupt("%d bytes is shorter than the %d-byte header", len(b), headerSize)
	}
	if [8]byte(b[0:8]) != magic {
		return h, corrupt("bad magic %q", b[0:8])
	}
	le := binary.LittleEndian
	if got, want := le.Uint32(b[60:]), crc32.Checksum(b[:60], castagnoli); got != want {
		return h, corrupt("header checksum %08x, computed %08x", got, want)
	}
	h.version = le.Uint32(b[8:])
	if h.version != formatVersion {
		return h, fmt.Errorf("fulltext: segment format version %d, this build reads %d", h.version, formatVersion)
	}
	h.terms = le.Uint32(b[12:])
	h.docs = le.Uint64(b[16:])
	h.tokens = le.Uint64(b[24:])
	h.docSpan = le.Uint32(b[32:])
	h.blockSize = le.Uint32(b[36:])
	h.termBytesLen = le.Uint64(b[40:])
	h.postingsLen = le.Uint64(b[48:])
	h.bodyCRC = le.Uint32(b[56:])
	switch {
	case h.docSpan > maxDocSpan:
		return h, corrupt("doc span %d", h.docSpan)
	case h.terms > maxTerms:
		return h, corrupt("%d terms", h.terms)
	case h.docs > uint64(h.docSpan):
		return h, corrupt("%d documents in a doc span of %d", h.docs, h.docSpan)
	case h.blockSize < 2 || h.blockSize > 1<<16:
		return h, corrupt("block size %d", h.blockSize)
	}
	return h, nil
}

// layout is where each body section starts (offsets in the file) and the
// file's total length. It fails when the header's lengths add up to more
// than any file could hold.
type layout struct {
	docLens, table, termBytes, postings, end uint64
}

func layoutOf(h header) (layout, error) {
	var l layout
	l.docLens = headerSize
	l.table = l.docLens + 4*uint64(h.docSpan)
	l.termBytes = l.table + entrySize*(uint64(h.terms)+1)
	// termBytesLen and postingsLen are any uint64 in a corrupt header:
	// bound them before adding so the sum cannot wrap around.
	const limit = 1 << 56
	if h.termBytesLen > limit || h.postingsLen > limit {
		return l, corrupt("section lengths %d and %d", h.termBytesLen, h.postingsLen)
	}
	l.postings = l.termBytes + h.termBytesLen
	l.end = l.postings + h.postingsLen
	return l, nil
}
