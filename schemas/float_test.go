package schemas

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// checkParseFloat32 compares parseFloat32 with strconv.ParseFloat(s, 32)
// bit for bit.
func checkParseFloat32(t testing.TB, s string) {
	t.Helper()
	want, wantErr := strconv.ParseFloat(s, 32)
	got, err := parseFloat32([]byte(s))
	if (err != nil) != (wantErr != nil) || math.Float32bits(got) != math.Float32bits(float32(want)) {
		t.Fatalf("parseFloat32(%q) = %v (%#08x), %v; strconv: %v (%#08x), %v",
			s, got, math.Float32bits(got), err, float32(want), math.Float32bits(float32(want)), wantErr)
	}
}

func TestParseFloat32(t *testing.T) {
	for _, s := range []string{
		"0", "-0", "0.0", "-0.0", "1", "-1", "0.5", "1e0", "1E+2", "1e-2", "-1.5e-3",
		"0.012345678918766975", "-0.07364717870950699", "1.2345678901234567e-05",
		"3.4028234663852886e38", "3.4028235677973366e38", "3.5e38", "1e39", "-1e39",
		"1.1754943508222875e-38", "1.401298464324817e-45", "7e-46", "1e-50",
		"16777216", "16777217", "16777218", "33554433", // integers around 2^24
		"0.10000000000000000555", "12345678901234567890", "1234567890123456789",
		"0.000000000000000000000000000001", "100000000000000000000000",
		"1e22", "1e23", "1e-22", "1e-23",
	} {
		checkParseFloat32(t, s)
	}
}

func TestParseFloat32Random(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	n := 200000
	if testing.Short() {
		n = 20000
	}
	for range n {
		f := math.Float32frombits(r.Uint32())
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			continue
		}
		f64 := float64(f)
		checkParseFloat32(t, strconv.FormatFloat(f64, 'g', -1, 32))
		checkParseFloat32(t, strconv.FormatFloat(f64, 'g', -1, 64)) // Python's repr
		checkParseFloat32(t, strconv.FormatFloat(f64, 'e', r.IntN(19), 64))
		// Near the point halfway to the next float32, where a float64
		// computation could round the wrong way.
		next := float64(math.Nextafter32(f, float32(math.Inf(1))))
		if !math.IsInf(next, 0) {
			mid := f64 + (next-f64)/2
			for prec := 14; prec <= 18; prec++ {
				checkParseFloat32(t, strconv.FormatFloat(mid, 'e', prec, 64))
			}
		}
		// Values of embedding size.
		g := float32(r.NormFloat64() * 0.05)
		checkParseFloat32(t, strconv.FormatFloat(float64(g), 'g', -1, 64))
	}
}

// TestFastFloat32Coverage guards the speed of embedding parsing: Python-style
// numbers must almost never need strconv.
func TestFastFloat32Coverage(t *testing.T) {
	slow, total := 0, 0
	for seed := range uint64(50) {
		for _, f := range unitVector(seed) {
			s := strconv.FormatFloat(float64(f), 'g', -1, 64)
			total++
			if _, n, ok := fastFloat32([]byte(s)); !ok || n != len(s) {
				slow++
			}
		}
	}
	if slow*100 > total {
		t.Errorf("%d of %d Python-style numbers took the slow path", slow, total)
	}
}

func FuzzParseFloat32(f *testing.F) {
	for _, s := range []string{"0", "-0.5", "1e-7", "0.012345678918766975", "3.5e38", "1e", "01", "-", "1.e5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, n, ok := fastFloat32([]byte(s))
		if !ok {
			return
		}
		num := s[:n]
		// What the fast path accepts is a JSON number...
		var v json.Number
		if err := json.Unmarshal([]byte(num), &v); err != nil || num[0] == '"' {
			t.Fatalf("fastFloat32 accepted %q, which is not a JSON number", num)
		}
		// ...and it converts it as strconv does.
		want, err := strconv.ParseFloat(num, 32)
		if err != nil || math.Float32bits(got) != math.Float32bits(float32(want)) {
			t.Fatalf("fastFloat32(%q) = %v, strconv: %v, %v", num, got, float32(want), err)
		}
	})
}

func BenchmarkParseFloat32(b *testing.B) {
	v := unitVector(9)
	nums := make([][]byte, len(v))
	for i, f := range v {
		nums[i] = []byte(strconv.FormatFloat(float64(f), 'g', -1, 64))
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range nums {
			if _, err := parseFloat32(s); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(nums)), "ns/number")
}
