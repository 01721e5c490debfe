package hnsw

import (
	"bufio"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"unsafe"

	"github.com/viterin/vek/vek32"
)

// The int8 serialized form, version 2: the same header and graph as version
// 1, but each vector stored as dim signed bytes and one float32 scale
// (component i is code[i]*scale, scale = max|x|/127). A 384-d node then
// takes about 520 bytes instead of 1,670, and a reader that starts cold
// fetches a third of the bytes: at 1M vectors, 0.5 GB instead of 1.7 GB.
//
// Loading dequantizes the vectors into memory as unit vectors, so
// searches run on float32 as with version 1. Scores are the cosine with the
// dequantized vector: within about 1e-3 of the original's on unit 384-d
// vectors (TestInt8Scores); callers that show scores re-score their final
// hits from the exact vectors.
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

// quantize returns the int8 codes and scale of v: the largest component maps
// to ±127. A zero vector has scale 0 and zero codes.
func quantize(dst []int8, v []float32) float32 {
	var mx float32
	for _, x := range v {
		mx = max(mx, float32(math.Abs(float64(x))))
	}
	if mx == 0 {
		clear(dst)
		return 0
	}
	s := mx / 127
	inv := 1 / s
	for i, x := range v {
		dst[i] = int8(max(-127, min(127, math.Round(float64(x*inv)))))
	}
	return s
}

// WriteInt8To writes the index in the int8 form (version 2) to w. Like
// WriteTo, the output depends only on the index.
func (ix *Index) WriteInt8To(w io.Writer) (int64, error) {
	lay := layoutOf8(uint64(ix.n), uint64(ix.dim), uint64(ix.m), uint64(len(ix.upper)))
	codes := make([]int8, ix.n*ix.dim)
	scales := make([]float32, ix.n)
	for i := range ix.n {
		scales[i] = quantize(codes[i*ix.dim:(i+1)*ix.dim], ix.vec(int32(i)))
	}
	body := func(emit func([]byte) error) error {
		var zero [sectionAlign]byte
		pos := uint64(headerSize)
		for _, sec := range []struct {
			at  uint64
			out func() error
			len uint64
		}{
			{lay.upperOff, func() error { return emitLE(ix.upperOff, emit) }, 4 * uint64(len(ix.upperOff))},
			{lay.scales, func() error { return emitLE(scales, emit) }, 4 * uint64(len(scales))},
			{lay.codes, func() error { return emitBytes(codes, emit) }, uint64(len(codes))},
			{lay.level0, func() error { return emitLE(ix.level0, emit) }, 4 * uint64(len(ix.level0))},
			{lay.upper, func() error { return emitLE(ix.upper, emit) }, 4 * uint64(len(ix.upper))},
		} {
			if err := emit(zero[:sec.at-pos]); err != nil {
				return err
			}
			if err := sec.out(); err != nil {
				return err
			}
			pos = sec.at + sec.len
		}
		return nil
	}
	crc := uint32(0)
	_ = body(func(b []byte) error {
		crc = crc32.Update(crc, castagnoli, b)
		return nil
	})
	h := ix.header(formatInt8, crc)
	cw := &countWriter{w: bufio.NewWriterSize(w, 1<<20)}
	if _, err := cw.Write(h[:]); err != nil {
		return cw.n, fmt.Errorf("hnsw: write header: %w", err)
	}
	if err := body(func(b []byte) error { _, err := cw.Write(b); return err }); err != nil {
		return cw.n, fmt.Errorf("hnsw: write index: %w", err)
	}
	if err := cw.w.Flush(); err != nil {
		return cw.n, fmt.Errorf("hnsw: write index: %w", err)
	}
	return cw.n, nil
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
	scales := view[float32](b, lay.scales, n)
	codes := unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(b[lay.codes:]))), n*dim)
	ix.vectors = make([]float32, n*dim)
	for i := range int(n) {
		s := scales[i]
		if !(s >= 0) || math.IsInf(float64(s), 0) {
			return nil, corrupt("node %d: scale %v", i, s)
		}
		dequantize(ix.vectors[i*int(dim):(i+1)*int(dim)], codes[i*int(dim):(i+1)*int(dim)])
	}
	ix.level0 = view[int32](b, lay.level0, n*(1+2*uint64(h.m)))
	ix.upper = view[int32](b, lay.upper, h.upperLen)
	// Vectors dequantized from int8 codes are finite by construction.
	if err := ix.validate(false); err != nil {
		return nil, err
	}
	return ix, nil
}

// dequantize writes the unit vector of codes to v: codes/|codes|, the
// stored scale cancelling out. Three SIMD passes (convert, sum of squares,
// scale); the sum of squares is exact in float32 (384 * 127^2 < 2^24).
func dequantize(v []float32, codes []int8) {
	int8ToFloat32(v, codes)
	n := dot(v, v)
	if n == 0 {
		return
	}
	vek32.MulNumber_Inplace(v, float32(1/math.Sqrt(float64(n))))
}
