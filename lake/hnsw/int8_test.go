package hnsw

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"testing"
)

// The int8 form keeps the graph exactly and the vectors to about 1e-3 in
// cosine, at under a third of the bytes; searches over it find the same
// neighbours.
func TestInt8RoundTrip(t *testing.T) {
	skipUnderRace(t)
	base, queries := textData(t, 5000, 100)
	ix := mustBuild(t, base, dim, Config{Seed: 3, Workers: 1})
	b := serializeInt8(t, ix)
	if ratio := float64(len(b)) / float64(ix.Size()); ratio > 0.35 {
		t.Errorf("int8 form is %.2f of the float32 form's size, want at most 0.35", ratio)
	}
	path := filepath.Join(t.TempDir(), "ix.hnsw")
	if err := writeFile(path, b); err != nil {
		t.Fatal(err)
	}
	fromFile, err := LoadFile(path)
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	defer fromFile.Close()
	for name, got := range map[string]*Index{"Load": mustLoad(t, b), "LoadFile": fromFile} {
		if got.Len() != ix.Len() || got.Dim() != ix.Dim() || got.Config() != ix.Config() || got.entry != ix.entry || got.maxLevel != ix.maxLevel {
			t.Fatalf("%s: header differs", name)
		}
		if !slices.Equal(got.level0, ix.level0) || !slices.Equal(got.upper, ix.upper) || !slices.Equal(got.upperOff, ix.upperOff) {
			t.Fatalf("%s: graph differs", name)
		}
		worst := float32(0)
		for i := range int32(ix.Len()) {
			worst = max(worst, 1-dot(got.Vector(i), ix.Vector(i)))
		}
		if worst > 2e-3 {
			t.Errorf("%s: a dequantized vector's cosine with its original is 1-%g, want within 2e-3", name, worst)
		}
	}
	// Search quality: the neighbours found, scored on the original vectors.
	got := mustLoad(t, b)
	var hitsF, hits8, worstScore float64
	for i := range len(queries) / dim {
		q := query(queries, i)
		want, _ := ExactParallel(base, dim, q, 10, nil, 0)
		bound := want[len(want)-1].Score - 1e-5
		rf, _ := ix.Search(q, 10, 100, nil)
		r8, _ := got.Search(q, 10, 100, nil)
		for _, r := range rf {
			if r.Score >= bound {
				hitsF++
			}
		}
		for _, r := range r8 {
			exact := dot(q, ix.Vector(r.ID))
			worstScore = max(worstScore, math.Abs(float64(exact-r.Score)))
			if exact >= bound {
				hits8++
			}
		}
	}
	if hits8 < hitsF-float64(len(queries)/dim)/10 {
		t.Errorf("int8 index found %v of the true neighbours, float32 %v", hits8, hitsF)
	}
	if worstScore > 3e-3 {
		t.Errorf("an int8 score is %g from the exact one, want within 3e-3", worstScore)
	}
	// A loaded int8 index serializes back to the same bytes, and its exact
	// scan agrees with its graph search at full ef.
	if again := serializeInt8(t, got); !bytes.Equal(again, b) {
		t.Error("re-serialized int8 index differs")
	}
	for i := range 5 {
		q := query(queries, i)
		ex, _ := got.Exact(q, 10, nil)
		gr, _ := got.Search(q, 10, got.Len(), nil)
		if len(ex) != 10 || ex[0] != gr[0] {
			t.Errorf("query %d: exact scan %v, graph %v", i, ex[:1], gr[:1])
		}
	}
}

func mustLoad(t testing.TB, b []byte) *Index {
	t.Helper()
	ix, err := Load(b)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return ix
}

func TestInt8LoadRejectsCorruption(t *testing.T) {
	ix, _ := smallIndex(t)
	good := serializeInt8(t, ix)
	lay := layoutOf8(uint64(ix.n), uint64(ix.dim), uint64(ix.m), uint64(len(ix.upper)))
	le := binary.LittleEndian
	mutate := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return b
	}
	cases := map[string][]byte{
		"truncated":        good[:len(good)-1],
		"a code flipped":   mutate(func(b []byte) { b[lay.codes+5] ^= 1 }),
		"NaN scale":        reseal(mutate(func(b []byte) { le.PutUint32(b[lay.scales+4:], math.Float32bits(float32(math.NaN()))) })),
		"negative scale":   reseal(mutate(func(b []byte) { le.PutUint32(b[lay.scales:], math.Float32bits(-1)) })),
		"infinite scale":   reseal(mutate(func(b []byte) { le.PutUint32(b[lay.scales:], math.Float32bits(float32(math.Inf(1)))) })),
		"nonzero padding":  reseal(mutate(func(b []byte) { b[lay.codes-1] = 1 })),
		"neighbour beyond": reseal(mutate(func(b []byte) { le.PutUint32(b[lay.level0+4:], uint32(ix.n)) })),
	}
	for name, b := range cases {
		if _, err := Load(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Load error %v, want ErrCorrupt", name, err)
		}
	}
	if _, err := Load(good); err != nil {
		t.Fatalf("good int8 index: %v", err)
	}
}
