package schemas

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unsafe"
)

// EmbeddingDim is the number of dimensions of every embedding Akosha stores:
// Session-Buddy's all-MiniLM-L6-v2 vectors.
const EmbeddingDim = 384

// strictB64 rejects non-zero padding bits, so that every vector has exactly one
// encoding (apart from the line breaks encoding/base64 always skips).
var strictB64 = base64.StdEncoding.Strict()

// DecodeEmbeddingB64 decodes the compact embedding form: standard base64 (with
// padding, as encoding/base64.StdEncoding) of the little-endian IEEE 754
// float32 values, 384*4 = 1536 bytes for a full vector. It accepts any whole
// number of floats and leaves the dimension check to Validate, so that a short
// vector is reported as "has 383 dimensions, want 384" rather than as a
// decoding error. Non-finite values are decoded as they are; Validate rejects
// them.
func DecodeEmbeddingB64(s string) ([]float32, error) {
	// The decoder only reads its input, so the string's bytes are used in
	// place rather than copied.
	return decodeEmbeddingB64(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// decodeEmbeddingB64 is DecodeEmbeddingB64 on bytes: the JSON decoder hands it
// the string's bytes where they lie in the request. It decodes straight into
// the memory of the result, so a vector is never held as a string or as bytes
// on the way: the only allocation is the result.
func decodeEmbeddingB64(src []byte) ([]float32, error) {
	size := base64.StdEncoding.DecodedLen(len(src)) // exact unless padding or line breaks
	v := make([]float32, (size+3)/4)
	var dst []byte
	if len(v) > 0 {
		dst = unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
	}
	n, err := strictB64.Decode(dst, src)
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			return nil, fmt.Errorf("invalid base64 at byte %d", int64(ce))
		}
		return nil, fmt.Errorf("invalid base64: %w", err)
	}
	if n%4 != 0 {
		return nil, fmt.Errorf("decodes to %d bytes, not a whole number of float32 values", n)
	}
	v = v[: n/4 : n/4]
	if !littleEndian {
		// The bytes are little-endian floats; put them in the machine's order.
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(dst[4*i:]))
		}
	}
	return v, nil
}

// littleEndian reports whether float32 values are stored little-endian, so
// that decoded bytes are already the values.
var littleEndian = func() bool {
	x := uint32(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// EncodeEmbeddingB64 is the inverse of DecodeEmbeddingB64.
func EncodeEmbeddingB64(v []float32) string {
	buf := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(f))
	}
	return base64.StdEncoding.EncodeToString(buf)
}

// checkEmbedding reports what is wrong with an embedding, or "" if nothing.
// An absent (nil or empty) embedding is valid: records without one are stored
// but never found by search.
func checkEmbedding(v []float32) string {
	if len(v) == 0 {
		return ""
	}
	if len(v) != EmbeddingDim {
		return fmt.Sprintf("has %d dimensions, want %d", len(v), EmbeddingDim)
	}
	for i, f := range v {
		// f-f is NaN for both NaN and ±Inf; one comparison per element keeps
		// this loop cheap on the ingest path.
		if f-f != 0 {
			return fmt.Sprintf("element %d is %v, want a finite number", i, f)
		}
	}
	return ""
}
