package textvec

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// The cache file: magic, count, dimension (uint32 LE each after the magic),
// then the vectors as float32 LE.
var cacheMagic = [8]byte{'A', 'K', 'T', 'X', 'T', 'V', 'E', 'C'}

const cacheHeader = 16

func cacheKey(o Options, corpusID string) string {
	h := sha256.New()
	fmt.Fprintf(h, "v%d n%d seed%d w%d bits%d jl%d dim%d\n%v\n%s",
		version, o.N, o.Seed, o.Window, hashBits, jlBlocks, Dim, o.Sources, corpusID)
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// readCache reads a cached result, in chunks: a million vectors are 1.5 GB,
// and reading the file whole would need that twice.
func readCache(path string, n int) ([]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var h [cacheHeader]byte
	if _, err := io.ReadFull(f, h[:]); err != nil || st.Size() != int64(cacheHeader+n*Dim*4) ||
		[8]byte(h[:8]) != cacheMagic || binary.LittleEndian.Uint32(h[8:]) != uint32(n) ||
		binary.LittleEndian.Uint32(h[12:]) != Dim {
		return nil, errors.New("textvec: cache file does not match")
	}
	v := make([]float32, n*Dim)
	buf := make([]byte, 1<<20)
	for i := 0; i < len(v); {
		c := min(len(buf)/4, len(v)-i)
		if _, err := io.ReadFull(f, buf[:4*c]); err != nil {
			return nil, fmt.Errorf("textvec: read cache: %w", err)
		}
		for j := range c {
			v[i+j] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*j:]))
		}
		i += c
	}
	return v, nil
}

// writeCache writes atomically: a temporary file renamed into place, so a
// concurrent or interrupted run never reads a torn file.
func writeCache(path string, v []float32, n int) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	var h [cacheHeader]byte
	copy(h[:], cacheMagic[:])
	binary.LittleEndian.PutUint32(h[8:], uint32(n))
	binary.LittleEndian.PutUint32(h[12:], Dim)
	w.Write(h[:])
	var b [4]byte
	for _, x := range v {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
		w.Write(b[:])
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// The corpus cache file: magic, the number of words and of stream starts
// (uint64 LE each), then the words and the starts as uint64 LE.
var corpusMagic = [8]byte{'A', 'K', 'T', 'X', 'T', 'C', 'R', 'P'}

func corpusKey(sources []Source, corpusID string) string {
	h := sha256.New()
	fmt.Fprintf(h, "corpus v%d\n%v\n%s", version, sources, corpusID)
	return hex.EncodeToString(h.Sum(nil)[:12])
}

func readCorpusCache(path string) (*corpus, error) {
	if path == "" {
		return nil, os.ErrNotExist
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	r := bufio.NewReaderSize(f, 1<<20)
	var h [24]byte
	if _, err := io.ReadFull(r, h[:]); err != nil || [8]byte(h[:8]) != corpusMagic {
		return nil, errors.New("textvec: corpus cache file does not match")
	}
	nw, ns := binary.LittleEndian.Uint64(h[8:]), binary.LittleEndian.Uint64(h[16:])
	if ns < 2 || nw > 1<<32 || ns > nw+1 || uint64(st.Size()) != 24+8*(nw+ns) {
		return nil, errors.New("textvec: corpus cache file does not match")
	}
	c := &corpus{words: make([]uint64, nw), starts: make([]int, ns)}
	if err := readUint64s(r, int(nw), func(i int, x uint64) { c.words[i] = x }); err != nil {
		return nil, err
	}
	if err := readUint64s(r, int(ns), func(i int, x uint64) { c.starts[i] = int(x) }); err != nil {
		return nil, err
	}
	if c.starts[0] != 0 || c.starts[len(c.starts)-1] != len(c.words) {
		return nil, errors.New("textvec: corpus cache file is inconsistent")
	}
	for i := 1; i < len(c.starts); i++ {
		if c.starts[i] < c.starts[i-1] || c.starts[i] > len(c.words) {
			return nil, errors.New("textvec: corpus cache file is inconsistent")
		}
	}
	return c, nil
}

// readUint64s reads n little-endian uint64s, handing each to set.
func readUint64s(r io.Reader, n int, set func(int, uint64)) error {
	buf := make([]byte, 1<<20)
	for i := 0; i < n; {
		c := min(len(buf)/8, n-i)
		if _, err := io.ReadFull(r, buf[:8*c]); err != nil {
			return fmt.Errorf("textvec: read corpus cache: %w", err)
		}
		for j := range c {
			set(i+j, binary.LittleEndian.Uint64(buf[8*j:]))
		}
		i += c
	}
	return nil
}

// writeCorpusCache writes atomically, as writeCache does.
func writeCorpusCache(path string, c *corpus) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	var b [8]byte
	put := func(x uint64) {
		binary.LittleEndian.PutUint64(b[:], x)
		w.Write(b[:])
	}
	w.Write(corpusMagic[:])
	put(uint64(len(c.words)))
	put(uint64(len(c.starts)))
	for _, x := range c.words {
		put(x)
	}
	for _, x := range c.starts {
		put(uint64(x))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
