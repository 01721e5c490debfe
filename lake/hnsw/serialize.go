package hnsw

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"unsafe"
)

// The serialized form, version 1. All integers and floats little-endian.
//
//	off  size  field
//	  0     8  magic "AKOSHNSW"
//	  8     4  version (1)
//	 12     4  dim
//	 16     4  M
//	 20     4  efConstruction
//	 24     4  efSearch
//	 28     4  count (n)
//	 32     4  entry point (int32; -1 when n == 0)
//	 36     4  max level
//	 40     8  upper length (int32 elements)
//	 48     8  seed
//	 56     4  CRC-32C of every byte after the header
//	 60     4  CRC-32C of bytes 0-59
//
// Then four sections, each starting at a multiple of 64 bytes (so a page-
// aligned mmap puts every vector on a cache line), zero padding between:
//
//	upperOff  (n+1) uint32
//	vectors   n*dim float32
//	level0    n*(1+2M) int32
//	upper     upperLen int32
//
// These are the Index's arrays byte for byte, so Load can use them in place.
var magic = [8]byte{'A', 'K', 'O', 'S', 'H', 'N', 'S', 'W'}

const (
	formatVersion = 1
	headerSize    = 64
	sectionAlign  = 64
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// layout is where each section starts, and the total size.
type layout struct {
	upperOff, vectors, level0, upper, end uint64
}

func align(x uint64) uint64 { return (x + sectionAlign - 1) &^ (sectionAlign - 1) }

// layoutOf computes the section offsets. The arguments are bounded by the
// callers (n < 2^31, dim <= 2^16, m <= 256, upperLen < 2^32), so nothing
// here overflows a uint64.
func layoutOf(n, dim, m, upperLen uint64) layout {
	var l layout
	l.upperOff = headerSize
	l.vectors = align(l.upperOff + 4*(n+1))
	l.level0 = align(l.vectors + 4*n*dim)
	l.upper = align(l.level0 + 4*n*(1+2*m))
	l.end = l.upper + 4*upperLen
	return l
}

// Size is the length of the serialized index in bytes.
func (ix *Index) Size() int64 {
	return int64(layoutOf(uint64(ix.n), uint64(ix.dim), uint64(ix.m), uint64(len(ix.upper))).end)
}

// WriteTo writes the serialized index to w. The output depends only on the
// index, so an index built with Workers == 1 serializes to the same bytes for
// the same vectors and seed.
func (ix *Index) WriteTo(w io.Writer) (int64, error) {
	lay := layoutOf(uint64(ix.n), uint64(ix.dim), uint64(ix.m), uint64(len(ix.upper)))
	vectors := ix.Vectors() // an int8 index's, dequantized once
	return ix.writeForm(w, formatVersion, []section{
		wordSection(lay.upperOff, ix.upperOff),
		wordSection(lay.vectors, vectors),
		wordSection(lay.level0, ix.level0),
		wordSection(lay.upper, ix.upper),
	})
}

// section is one part of a serialized form: where it starts, its length in
// bytes, and how to emit them.
type section struct {
	at, len uint64
	out     func(emit func([]byte) error) error
}

func wordSection[T word](at uint64, s []T) section {
	return section{at, 4 * uint64(len(s)), func(emit func([]byte) error) error { return emitLE(s, emit) }}
}

// writeForm writes the header of the given version and then the sections,
// in order, with zero padding up to each one's start. The body's checksum
// goes in the header, so the body is hashed first: a second pass over
// memory, not a second write.
func (ix *Index) writeForm(w io.Writer, version uint32, secs []section) (int64, error) {
	crc := uint32(0)
	_ = writeSections(secs, func(b []byte) error {
		crc = crc32.Update(crc, castagnoli, b)
		return nil
	})
	h := ix.header(version, crc)
	cw := &countWriter{w: bufio.NewWriterSize(w, 1<<20)}
	if _, err := cw.Write(h[:]); err != nil {
		return cw.n, fmt.Errorf("hnsw: write header: %w", err)
	}
	if err := writeSections(secs, func(b []byte) error { _, err := cw.Write(b); return err }); err != nil {
		return cw.n, fmt.Errorf("hnsw: write index: %w", err)
	}
	if err := cw.w.Flush(); err != nil {
		return cw.n, fmt.Errorf("hnsw: write index: %w", err)
	}
	return cw.n, nil
}

// writeSections emits everything after the header, in order, to emit.
func writeSections(secs []section, emit func([]byte) error) error {
	var zero [sectionAlign]byte
	pos := uint64(headerSize)
	for _, sec := range secs {
		if err := emit(zero[:sec.at-pos]); err != nil {
			return err
		}
		if err := sec.out(emit); err != nil {
			return err
		}
		pos = sec.at + sec.len
	}
	return nil
}

// header is the 64-byte header of a serialized form of the index with the
// given version and body checksum.
func (ix *Index) header(version, crc uint32) [headerSize]byte {
	var h [headerSize]byte
	copy(h[:], magic[:])
	le := binary.LittleEndian
	le.PutUint32(h[8:], version)
	le.PutUint32(h[12:], uint32(ix.dim))
	le.PutUint32(h[16:], uint32(ix.m))
	le.PutUint32(h[20:], uint32(ix.efConstruction))
	le.PutUint32(h[24:], uint32(ix.efSearch))
	le.PutUint32(h[28:], uint32(ix.n))
	le.PutUint32(h[32:], uint32(ix.entry))
	le.PutUint32(h[36:], uint32(ix.maxLevel))
	le.PutUint64(h[40:], uint64(len(ix.upper)))
	le.PutUint64(h[48:], uint64(ix.seed))
	le.PutUint32(h[56:], crc)
	le.PutUint32(h[60:], crc32.Checksum(h[:60], castagnoli))
	return h
}

type countWriter struct {
	w *bufio.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// word is the element type of every section: four bytes.
type word interface{ int32 | uint32 | float32 }

// littleEndian: on a little-endian host the in-memory arrays are the file's
// bytes, and Load and WriteTo use them directly.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// emitLE emits s as little-endian bytes: the memory itself on little-endian
// hosts, encoded 64 KiB at a time elsewhere.
func emitLE[T word](s []T, emit func([]byte) error) error {
	if len(s) == 0 {
		return nil
	}
	if littleEndian {
		return emit(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), 4*len(s)))
	}
	var buf [64 << 10]byte
	for len(s) > 0 {
		c := min(len(s), len(buf)/4)
		for i, x := range s[:c] {
			binary.LittleEndian.PutUint32(buf[4*i:], bits(x))
		}
		if err := emit(buf[:4*c]); err != nil {
			return err
		}
		s = s[c:]
	}
	return nil
}

// bits is x's four bytes as a uint32: the same bits whatever the type.
func bits[T word](x T) uint32 { return *(*uint32)(unsafe.Pointer(&x)) }

// ErrCorrupt is wrapped by every error Load returns for bytes that are not a
// valid index.
var ErrCorrupt = errors.New("hnsw: corrupt index")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// Load opens a serialized index held in b. On a little-endian host with b
// 4-byte aligned (any Go allocation or mmap is) it uses b in place, so b
// must not change while the index is in use; otherwise it copies. Every
// checksum, size, offset and neighbour id is checked first, so corrupt or
// truncated input returns an error wrapping ErrCorrupt, never a panic or an
// out-of-range read later. The checks read all of b.
func Load(b []byte) (*Index, error) {
	return load(b, true)
}

// load is Load with the body checksum optional: the fuzz test turns it off
// so that mutated inputs reach the structural checks behind it.
func load(b []byte, verifyCRC bool) (*Index, error) {
	h, err := parseHeader(b)
	if err != nil {
		return nil, err
	}
	if h.version == formatInt8 {
		return load8(b, h, verifyCRC)
	}
	n, dim, m := uint64(h.n), uint64(h.dim), uint64(h.m)
	lay := layoutOf(n, dim, m, h.upperLen)
	if uint64(len(b)) != lay.end {
		return nil, corrupt("%d bytes, the header implies %d", len(b), lay.end)
	}
	if err := h.checkBody(b, verifyCRC, [][2]uint64{
		{lay.upperOff + 4*(n+1), lay.vectors},
		{lay.vectors + 4*n*dim, lay.level0},
		{lay.level0 + 4*n*(1+2*m), lay.upper},
	}); err != nil {
		return nil, err
	}
	ix := h.index()
	ix.upperOff = view[uint32](b, lay.upperOff, n+1)
	ix.vectors = view[float32](b, lay.vectors, n*dim)
	ix.level0 = view[int32](b, lay.level0, n*(1+2*m))
	ix.upper = view[int32](b, lay.upper, h.upperLen)
	if err := ix.validate(true); err != nil {
		return nil, err
	}
	return ix, nil
}

// header is the parsed header of either serialized form.
type header struct {
	version, dim, m, efc, efs, n, top uint32
	entry                             int32
	upperLen                          uint64
	seed                              int64
	crc                               uint32
}

// parseHeader reads and checks the header: magic, checksum, a version this
// build reads, and every field within its bounds.
func parseHeader(b []byte) (header, error) {
	var h header
	if len(b) < headerSize {
		return h, corrupt("%d bytes is shorter than the %d-byte header", len(b), headerSize)
	}
	le := binary.LittleEndian
	if [8]byte(b[:8]) != magic {
		return h, corrupt("bad magic %q", b[:8])
	}
	if got, want := le.Uint32(b[60:]), crc32.Checksum(b[:60], castagnoli); got != want {
		return h, corrupt("header checksum %08x, computed %08x", got, want)
	}
	h = header{
		version: le.Uint32(b[8:]), dim: le.Uint32(b[12:]), m: le.Uint32(b[16:]),
		efc: le.Uint32(b[20:]), efs: le.Uint32(b[24:]),
		n: le.Uint32(b[28:]), entry: int32(le.Uint32(b[32:])), top: le.Uint32(b[36:]),
		upperLen: le.Uint64(b[40:]), seed: int64(le.Uint64(b[48:])), crc: le.Uint32(b[56:]),
	}
	switch {
	case h.version != formatVersion && h.version != formatInt8:
		return h, fmt.Errorf("hnsw: index format version %d, this build reads %d and %d", h.version, formatVersion, formatInt8)
	case h.dim < 1 || h.dim > maxDim:
		return h, corrupt("dimension %d", h.dim)
	case h.m < 2 || h.m > maxM:
		return h, corrupt("M %d", h.m)
	case h.efc < 1 || h.efc > maxEf || h.efs < 1 || h.efs > maxEf:
		return h, corrupt("ef %d/%d", h.efc, h.efs)
	case h.n >= math.MaxInt32:
		return h, corrupt("count %d", h.n)
	case h.top > maxLevel:
		return h, corrupt("max level %d", h.top)
	case h.upperLen > math.MaxUint32:
		return h, corrupt("upper length %d", h.upperLen)
	}
	return h, nil
}

// checkBody verifies the body checksum (when asked) and that the padding
// gaps [from, to) hold only zeros.
func (h header) checkBody(b []byte, verifyCRC bool, gaps [][2]uint64) error {
	if verifyCRC {
		if got := crc32.Checksum(b[headerSize:], castagnoli); got != h.crc {
			return corrupt("body checksum %08x, computed %08x", h.crc, got)
		}
	}
	for _, gap := range gaps {
		for _, c := range b[gap[0]:gap[1]] {
			if c != 0 {
				return corrupt("nonzero padding")
			}
		}
	}
	return nil
}

// index is an Index with the header's fields and no arrays yet.
func (h header) index() *Index {
	ix := &Index{
		dim:            int(h.dim),
		m:              int(h.m),
		efConstruction: int(h.efc),
		efSearch:       int(h.efs),
		seed:           h.seed,
		n:              int(h.n),
		entry:          h.entry,
		maxLevel:       int(h.top),
	}
	ix.vecLines = (4*ix.dim + 63) / 64
	ix.codeLines = (ix.dim + 63) / 64
	return ix
}

// view is count elements of b from off: the bytes themselves when the host
// is little-endian and they are aligned, a decoded copy otherwise.
func view[T word](b []byte, off, count uint64) []T {
	if count == 0 {
		return []T{}
	}
	p := b[off : off+4*count]
	if littleEndian && uintptr(unsafe.Pointer(&p[0]))%4 == 0 {
		return unsafe.Slice((*T)(unsafe.Pointer(&p[0])), count)
	}
	out := make([]T, count)
	for i := range out {
		u := binary.LittleEndian.Uint32(p[4*i:])
		out[i] = *(*T)(unsafe.Pointer(&u))
	}
	return out
}

// validate checks everything a search relies on: offsets in bounds and
// consistent with levels, the entry point at the top level, neighbour counts
// within their blocks, neighbour ids naming nodes that have the level they
// are linked on, and (checkVectors) finite vectors.
func (ix *Index) validate(checkVectors bool) error {
	n := ix.n
	if n == 0 {
		if ix.entry != -1 || ix.maxLevel != 0 || len(ix.upper) != 0 || ix.upperOff[0] != 0 {
			return corrupt("empty index with entry %d, level %d, %d upper slots", ix.entry, ix.maxLevel, len(ix.upper))
		}
		return nil
	}
	if ix.upperOff[0] != 0 || uint64(ix.upperOff[n]) != uint64(len(ix.upper)) {
		return corrupt("upper offsets span [%d, %d) of %d", ix.upperOff[0], ix.upperOff[n], len(ix.upper))
	}
	us := uint32(ix.m + 1)
	top := 0
	for i := range n {
		a, b := ix.upperOff[i], ix.upperOff[i+1]
		if b < a || (b-a)%us != 0 || (b-a)/us > maxLevel {
			return corrupt("node %d: upper run [%d, %d)", i, a, b)
		}
		top = max(top, int((b-a)/us))
	}
	if ix.entry < 0 || int(ix.entry) >= n || ix.level(ix.entry) != ix.maxLevel || top != ix.maxLevel {
		return corrupt("entry point %d at max level %d (highest level present %d)", ix.entry, ix.maxLevel, top)
	}
	for i := range int32(n) {
		for l := 0; l <= ix.level(i); l++ {
			blk := ix.list(i, l)
			c := blk[0]
			if c < 0 || int(c) > len(blk)-1 {
				return corrupt("node %d level %d: %d neighbours", i, l, c)
			}
			for _, nb := range blk[1 : 1+c] {
				if nb < 0 || int(nb) >= n || ix.level(nb) < l {
					return corrupt("node %d level %d: neighbour %d", i, l, nb)
				}
			}
		}
	}
	if checkVectors && !finite(ix.vectors) {
		return corrupt("a vector has a NaN or infinite component")
	}
	return nil
}
