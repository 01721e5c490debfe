package hnsw

import (
	"io"
	"math"
	"slices"
	"unsafe"
)

// The int8 serialized form, version 2: the same header and graph as version
// 1, but each vector stored as dim signed bytes and one float32 scale, the
// vector being code*scale at unit length (the codes are round(x*127/max|x|)
// of the unit vector; the scale is 1/|codes|). A 384-d node then takes about
// 520 bytes instead of 1,670, and a reader that starts cold fetches a third
// of the bytes: at 1M vectors, 0.5 GB instead of 1.7 GB.
//
// A loaded int8 index is searched in place: a distance is dotInt8(q, codes)
// times the scale, with no float32 copy (which at 1M vectors would be 1.5 GB
// of fresh memory to fault in, slower here than fetching the index). Scores
// are the cosine with the dequantized vector: within about 1e-3 of the
// original's on unit 384-d vectors (TestInt8RoundTrip); callers that show
// scores re-score their final hits from the exact vectors.
//
//	upperOff  (n+1) uint32
//	scales    n float32
//	codes     n*dim int8
//	level0    n*(1+2M) int32
//	upper     upperLen int32
//
// each section starting at a multiple of 64 bytes, zero padding between.
const formatInt8 = 2

type layout8 struct {
	upperOff, scales, codes, level0, upper, end uint64
}

func layoutOf8(n, dim, m, upperLen uint64) layout8 {
	var l layout8
	l.upperOff = headerSize
	l.scales = align(l.upperOff + 4*(n+1))
	l.codes = align(l.scales + 4*n)
	l.level0 = align(l.codes + n*dim)
	l.upper = align(l.level0 + 4*n*(1+2*m))
	l.end = l.upper + 4*upperLen
	return l
}

// Int8Size is the length of the int8 serialized form in bytes.
func (ix *Index) Int8Size() int64 {
	return int64(layoutOf8(uint64(ix.n), uint64(ix.dim), uint64(ix.m), uint64(len(ix.upper))).end)
}

// quantize sets dst to the int8 codes of v, the largest component mapping
// to ±127, and returns the scale that makes codes*scale unit length (0 for
// a zero vector, whose codes are zero).
func quantize(dst []int8, v []float32) float32 {
	var mx float32
	for _, x := range v {
		mx = max(mx, float32(math.Abs(float64(x))))
	}
	if mx == 0 {
		clear(dst)
		return 0
	}
	inv := 127 / mx
	var sum int64
	for i, x := range v {
		c := int8(max(-127, min(127, math.Round(float64(x*inv)))))
		dst[i] = c
		sum += int64(c) * int64(c)
	}
	return float32(1 / math.Sqrt(float64(sum)))
}

// WriteInt8To writes the index in the int8 form (version 2) to w. Like
// WriteTo, the output depends only on the index.
func (ix *Index) WriteInt8To(w io.Writer) (int64, error) {
	lay := layoutOf8(uint64(ix.n), uint64(ix.dim), uint64(ix.m), uint64(len(ix.upper)))
	codes, scales := ix.codes, ix.scales
	if codes == nil {
		codes = make([]int8, ix.n*ix.dim)
		scales = make([]float32, ix.n)
		for i := range ix.n {
			scales[i] = quantize(codes[i*ix.dim:(i+1)*ix.dim], ix.vec(int32(i)))
		}
	}
	return ix.writeForm(w, formatInt8, []section{
		wordSection(lay.upperOff, ix.upperOff),
		wordSection(lay.scales, scales),
		{lay.codes, uint64(len(codes)), func(emit func([]byte) error) error { return emitBytes(codes, emit) }},
		wordSection(lay.level0, ix.level0),
		wordSection(lay.upper, ix.upper),
	})
}

func emitBytes(codes []int8, emit func([]byte) error) error {
	if len(codes) == 0 {
		return nil
	}
	return emit(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(codes))), len(codes)))
}

// load8 is load for the int8 form: h is the parsed header, b the whole
// serialized index. The graph sections are used in place like version 1's;
// the vectors are dequantized into a new array.
func load8(b []byte, h header, verifyCRC bool) (*Index, error) {
	n, dim := uint64(h.n), uint64(h.dim)
	lay := layoutOf8(n, dim, uint64(h.m), h.upperLen)
	if uint64(len(b)) != lay.end {
		return nil, corrupt("%d bytes, the header implies %d", len(b), lay.end)
	}
	if err := h.checkBody(b, verifyCRC, [][2]uint64{
		{lay.upperOff + 4*(n+1), lay.scales},
		{lay.scales + 4*n, lay.codes},
		{lay.codes + n*dim, lay.level0},
		{lay.level0 + 4*n*(1+2*uint64(h.m)), lay.upper},
	}); err != nil {
		return nil, err
	}
	ix := h.index()
	ix.upperOff = view[uint32](b, lay.upperOff, n+1)
	ix.scales = view[float32](b, lay.scales, n)
	ix.codes = unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(b[lay.codes:]))), n*dim)
	if n == 0 {
		ix.codes = []int8{}
	}
	for i, s := range ix.scales {
		if !(s >= 0) || math.IsInf(float64(s), 0) {
			return nil, corrupt("node %d: scale %v", i, s)
		}
	}
	ix.level0 = view[int32](b, lay.level0, n*(1+2*uint64(h.m)))
	ix.upper = view[int32](b, lay.upper, h.upperLen)
	// Scores from int8 codes and finite scales are finite by construction.
	if err := ix.validate(false); err != nil {
		return nil, err
	}
	return ix, nil
}

// dequantizeInto writes node id's unit vector of an int8 index to v.
func (ix *Index) dequantizeInto(v []float32, id int32) {
	o := int(id) * ix.dim
	s := ix.scales[id]
	for j, c := range ix.codes[o : o+ix.dim] {
		v[j] = float32(c) * s
	}
}

// exactInt8 is Index.Exact for an int8 index: every node scored in place.
func (ix *Index) exactInt8(q []float32, k int, filter func(id int32) bool) []Result {
	qn := slices.Clone(q)
	Normalize(qn)
	k = min(k, ix.n)
	if k <= 0 {
		return []Result{}
	}
	h := make(maxHeap, 0, k)
	for i := range int32(ix.n) {
		if filter != nil && !filter(i) {
			continue
		}
		d := ix.dist(qn, i)
		if len(h) == k && d >= h[0].dist {
			continue
		}
		offer(&h, item{d, i}, k)
	}
	return drain(h)
}
