package schemas

import (
	"math"
	"strconv"
)

// Embeddings arrive as 384 numbers that Python wrote from float32 values
// widened to float64, so most have 17 or 18 significant digits. strconv's
// generic scanner spends about 70ns on each of them, which alone is half the
// per-record budget of ingest; parseFloat32 handles the common case in a
// fraction of that and defers to strconv for the rest.

// exactPow10 are the powers of ten that float64 represents exactly.
var exactPow10 = [...]float64{
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
}

// parseFloat32 returns the float32 nearest to the JSON number b, which must
// already match the JSON number grammar. Like strconv.ParseFloat(b, 32) it
// returns ±Inf and an error for values beyond the float32 range.
func parseFloat32(b []byte) (float32, error) {
	if f, n, ok := fastFloat32(b); ok && n == len(b) {
		return f, nil
	}
	f, err := strconv.ParseFloat(string(b), 32)
	return float32(f), err
}

// fastFloat32 converts the JSON number at the start of b when that can be
// done exactly with float64 arithmetic. It returns the value and the length
// of the number, or ok == false if b does not start with a number in the
// JSON grammar or the number needs strconv. It both scans and converts
// because embeddings are parsed once per request and the scan is half the
// work.
//
// With at most 19 significant digits w and a decimal exponent |q| <= 22, the
// value x = w * 10^q is computed as f = float64(w) */ 10^|q| with two roundings,
// so |f - x| <= 2 ulps of f. Rounding f to float32 then gives the float32
// nearest to x unless a float32 rounding boundary (a point halfway between
// two float32 values) lies between x and f. Such a boundary has 25
// significant bits, so in f's binade it is the float64 whose low 29 mantissa
// bits are 1<<28; f is rejected when it is within 4 ulps of one. Subnormal
// and near-overflow float32 results are left to strconv as well.
func fastFloat32(b []byte) (f32 float32, n int, ok bool) {
	i := 0
	neg := false
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	var w uint64
	digits, exp := 0, 0
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			w = w*10 + uint64(b[i]-'0')
			digits++
		}
	default:
		return 0, 0, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if w != 0 || b[i] != '0' { // leading zeros are not significant
				w = w*10 + uint64(b[i]-'0')
				digits++
			}
		}
		if i == j {
			return 0, 0, false
		}
		exp = j - i
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		expNeg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			expNeg = b[i] == '-'
			i++
		}
		j := i
		e := 0
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if e < 10000 { // beyond any float32, and far from overflowing int
				e = e*10 + int(b[i]-'0')
			}
		}
		if i == j {
			return 0, 0, false
		}
		if expNeg {
			e = -e
		}
		exp += e
	}
	if digits > 19 { // w overflowed
		return 0, 0, false
	}
	if w == 0 {
		if neg {
			return float32(math.Copysign(0, -1)), i, true
		}
		return 0, i, true
	}
	if exp < -22 || exp > 22 {
		return 0, 0, false
	}
	f := float64(w)
	if exp >= 0 {
		f *= exactPow10[exp]
	} else {
		f /= exactPow10[-exp]
	}
	if f < 0x1p-126 || f >= 0x1p127 {
		return 0, 0, false
	}
	const half = 1 << 28
	if low := math.Float64bits(f) & (1<<29 - 1); low >= half-4 && low <= half+4 {
		return 0, 0, false
	}
	r := float32(f)
	if neg {
		r = -r
	}
	return r, i, true
}
