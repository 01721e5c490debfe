package hnsw

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"os"
	"testing"
)

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o644) }

// reseal recomputes both checksums, so that a structural corruption gets
// past them and has to be caught by the structural checks.
func reseal(b []byte) []byte {
	le := binary.LittleEndian
	le.PutUint32(b[56:], crc32.Checksum(b[headerSize:], castagnoli))
	le.PutUint32(b[60:], crc32.Checksum(b[:60], castagnoli))
	return b
}

func smallIndex(t testing.TB) (*Index, []byte) {
	v := gaussian(300, 8, 4)
	ix := mustBuild(t, v, 8, Config{M: 4, EfConstruction: 32, Seed: 2, Workers: 1})
	return ix, serialize(t, ix)
}

func TestLoadRejectsCorruption(t *testing.T) {
	ix, good := smallIndex(t)
	if _, err := Load(good); err != nil {
		t.Fatalf("good index: %v", err)
	}
	lay := layoutOf(uint64(ix.n), uint64(ix.dim), uint64(ix.m), uint64(len(ix.upper)))
	le := binary.LittleEndian
	mutate := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return b
	}
	// Find a node with an upper level, and its first upper neighbour slot.
	var upperNode int32 = -1
	for i := range int32(ix.n) {
		if ix.level(i) > 0 && ix.list(i, 1)[0] > 0 {
			upperNode = i
			break
		}
	}
	if upperNode < 0 {
		t.Fatal("no node with upper links")
	}
	var lowNode int32 // a level-0-only node
	for i := range int32(ix.n) {
		if ix.level(i) == 0 {
			lowNode = i
			break
		}
	}
	upperSlot := lay.upper + 4*uint64(ix.upperOff[upperNode]) + 4
	l0 := func(node, slot int) uint64 { return lay.level0 + 4*uint64(node*(1+2*ix.m)+slot) }

	cases := map[string][]byte{
		"empty":           {},
		"short header":    good[:headerSize-1],
		"header only":     good[:headerSize],
		"truncated":       good[:len(good)-1],
		"cut at vectors":  good[:lay.vectors],
		"cut at level0":   good[:lay.level0],
		"cut at upper":    good[:lay.upper],
		"extended":        append(append([]byte(nil), good...), 0),
		"bad magic":       mutate(func(b []byte) { b[0] = 'X' }),
		"header bit flip": mutate(func(b []byte) { b[13] ^= 1 }),
		"body bit flip":   mutate(func(b []byte) { b[lay.vectors+5] ^= 0x10 }),
		"last byte flip":  mutate(func(b []byte) { b[len(b)-1] ^= 1 }),
		"dim zero":        reseal(mutate(func(b []byte) { le.PutUint32(b[12:], 0) })),
		"dim huge":        reseal(mutate(func(b []byte) { le.PutUint32(b[12:], 1<<30) })),
		"M one":           reseal(mutate(func(b []byte) { le.PutUint32(b[16:], 1) })),
		"count huge":      reseal(mutate(func(b []byte) { le.PutUint32(b[28:], math.MaxUint32) })),
		"count off by 1":  reseal(mutate(func(b []byte) { le.PutUint32(b[28:], uint32(ix.n-1)) })),
		"entry negative":  reseal(mutate(func(b []byte) { le.PutUint32(b[32:], math.MaxUint32) })),
		"entry too big":   reseal(mutate(func(b []byte) { le.PutUint32(b[32:], uint32(ix.n)) })),
		"entry not top":   reseal(mutate(func(b []byte) { le.PutUint32(b[32:], uint32(lowNode)) })),
		"max level wrong": reseal(mutate(func(b []byte) { le.PutUint32(b[36:], uint32(ix.maxLevel+1)) })),
		"upper len huge":  reseal(mutate(func(b []byte) { le.PutUint64(b[40:], 1<<40) })),
		"ef zero":         reseal(mutate(func(b []byte) { le.PutUint32(b[24:], 0) })),
		"offset backward": reseal(mutate(func(b []byte) { le.PutUint32(b[lay.upperOff+4*uint64(upperNode+1):], 0) })),
		"offset ragged":   reseal(mutate(func(b []byte) { le.PutUint32(b[lay.upperOff+4*uint64(upperNode+1):], ix.upperOff[upperNode+1]+1) })),
		"first offset":    reseal(mutate(func(b []byte) { le.PutUint32(b[lay.upperOff:], 1) })),
		"l0 count":        reseal(mutate(func(b []byte) { le.PutUint32(b[l0(0, 0):], uint32(2*ix.m+1)) })),
		"l0 count neg":    reseal(mutate(func(b []byte) { le.PutUint32(b[l0(0, 0):], math.MaxUint32) })),
		"l0 id too big":   reseal(mutate(func(b []byte) { le.PutUint32(b[l0(0, 1):], uint32(ix.n)) })),
		"l0 id negative":  reseal(mutate(func(b []byte) { le.PutUint32(b[l0(0, 1):], math.MaxUint32) })),
		"upper count":     reseal(mutate(func(b []byte) { le.PutUint32(b[upperSlot-4:], uint32(ix.m+1)) })),
		"upper id range":  reseal(mutate(func(b []byte) { le.PutUint32(b[upperSlot:], uint32(ix.n+5)) })),
		"upper id level":  reseal(mutate(func(b []byte) { le.PutUint32(b[upperSlot:], uint32(lowNode)) })),
		"NaN vector":      reseal(mutate(func(b []byte) { le.PutUint32(b[lay.vectors+8:], math.Float32bits(float32(math.NaN()))) })),
		"padding":         reseal(mutate(func(b []byte) { b[lay.vectors-1] = 1 })),
	}
	for name, b := range cases {
		_, err := Load(b)
		if err == nil {
			t.Errorf("%s: loaded", name)
			continue
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: error %v does not wrap ErrCorrupt", name, err)
		}
	}
	// An unknown version is not corruption, but is refused.
	if _, err := Load(reseal(mutate(func(b []byte) { le.PutUint32(b[8:], 99) }))); err == nil {
		t.Error("version 99 loaded")
	}

	// Files: empty and truncated.
	dir := t.TempDir()
	for name, b := range map[string][]byte{"empty": {}, "truncated": good[:len(good)/2]} {
		p := dir + "/" + name
		if err := writeFile(p, b); err != nil {
			t.Fatal(err)
		}
		if ix, err := LoadFile(p); err == nil {
			ix.Close()
			t.Errorf("LoadFile(%s) succeeded", name)
		}
	}
	if _, err := LoadFile(dir + "/missing"); err == nil {
		t.Error("LoadFile of a missing file succeeded")
	}
}

// FuzzLoad: no input may panic Load or a search over what it accepted, and
// whatever Load accepts with its checksums must serialize back to itself.
func FuzzLoad(f *testing.F) {
	// Small inputs fuzz faster: 40 nodes of dimension 4, M 2.
	good := serialize(f, mustBuild(f, gaussian(40, 4, 9), 4, Config{M: 2, EfConstruction: 8, Seed: 1, Workers: 1}))
	empty := serialize(f, mustBuild(f, nil, 3, Config{}))
	f.Add(good)
	f.Add(empty)
	f.Add(serializeInt8(f, mustBuild(f, gaussian(40, 4, 9), 4, Config{M: 2, EfConstruction: 8, Seed: 1, Workers: 1})))
	f.Add(good[:len(good)/2])
	f.Add(good[:headerSize])
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, verify := range []bool{true, false} {
			ix, err := load(b, verify)
			if err != nil {
				continue
			}
			q := make([]float32, ix.Dim())
			for i := range q {
				q[i] = float32(i%3) - 1
			}
			for _, ef := range []int{1, 10, ix.Len() + 1} {
				res, err := ix.Search(q, 5, ef, nil)
				if err != nil {
					t.Fatal(err)
				}
				checkResults(t, res, 5, ix.Len())
				res, _ = ix.Search(q, 5, ef, func(id int32) bool { return id%2 == 0 })
				checkResults(t, res, 5, ix.Len())
			}
			if verify && binary.LittleEndian.Uint32(b[8:]) == formatInt8 {
				if out := serializeInt8(t, ix); !bytes.Equal(out, b) {
					t.Fatal("accepted int8 input does not serialize back to itself")
				}
			} else if verify {
				var out []byte
				w := &sliceWriter{&out}
				if _, err := ix.WriteTo(w); err != nil {
					t.Fatal(err)
				}
				if string(out) != string(b) {
					t.Fatal("accepted input does not serialize back to itself")
				}
			}
		}
	})
}

type sliceWriter struct{ b *[]byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}
