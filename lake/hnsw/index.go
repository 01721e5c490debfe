package hnsw

import (
	"sync"
	"sync/atomic"
)

// Result is one neighbour: its node id (the row position given to Build) and
// its cosine similarity to the query.
type Result struct {
	ID    int32
	Score float32
}

// Index is an HNSW graph with its vectors. It is safe for concurrent Search
// once Build or Load has returned.
//
// Storage is flat so that the serialized form is the in-memory form:
//
//	vectors   n*dim float32, unit length
//	level0    n blocks of 1+2M int32: neighbour count, then the neighbours
//	upperOff  n+1 uint32: node i's upper levels are upper[upperOff[i]:upperOff[i+1]]
//	upper     per node, levels 1..L as blocks of 1+M int32 (count, neighbours)
//
// A node's level is the length of its upper run divided by 1+M, so levels
// need no array of their own.
type Index struct {
	dim            int
	m              int
	efConstruction int
	efSearch       int
	seed           int64
	n              int

	vectors []float32
	// codes and scales replace vectors in an index loaded from the int8
	// form: node i is codes[i*dim:(i+1)*dim] times scales[i], a unit
	// vector, scored in place by dotInt8 (see int8.go).
	codes    []int8
	scales   []float32
	level0   []int32
	upperOff []uint32
	upper    []int32

	vecLines  int // cache lines of one vector, for prefetch
	codeLines int // cache lines of one node's int8 codes

	// half, during a build only, is the vectors rounded to float16 (row i
	// at [i*dim, (i+1)*dim)): the graph searches of the inserts compute
	// their distances from it, reading half the memory (see Build).
	half      []uint16
	halfLines int

	entry    int32 // -1 when empty
	maxLevel int

	// parallel is true while goroutines of a parallel build rewrite lists
	// that others read: only then must a list be read with atomic loads.
	// It is set before the builders start and cleared after they are
	// joined, so reading it never races.
	parallel bool

	searchers sync.Pool // *searcher
	closeOnce sync.Once
	release   func() error // unmaps a LoadFile index
}

// Len is the number of vectors.
func (ix *Index) Len() int { return ix.n }

// Dim is the vectors' dimension.
func (ix *Index) Dim() int { return ix.dim }

// Config is the configuration the index was built with. Workers is not kept
// and reads 0.
func (ix *Index) Config() Config {
	return Config{M: ix.m, EfConstruction: ix.efConstruction, EfSearch: ix.efSearch, Seed: ix.seed}
}

// Vector is node id's stored (normalized) vector. It aliases the index: do
// not modify it, and do not use it after Close. For an index loaded from
// the int8 form it is a dequantized copy.
func (ix *Index) Vector(id int32) []float32 {
	if id < 0 || int(id) >= ix.n {
		return nil
	}
	if ix.codes != nil {
		v := make([]float32, ix.dim)
		ix.dequantizeInto(v, id)
		return v
	}
	return ix.vec(id)
}

// Vectors is the flat array of all stored vectors, row i at [i*Dim, (i+1)*Dim).
// It aliases the index like Vector (a dequantized copy for an int8 index).
func (ix *Index) Vectors() []float32 {
	if ix.codes != nil {
		v := make([]float32, ix.n*ix.dim)
		for i := range int32(ix.n) {
			ix.dequantizeInto(v[int(i)*ix.dim:(int(i)+1)*ix.dim], i)
		}
		return v
	}
	return ix.vectors
}

// Close releases the memory map of an index opened by LoadFile. It is a no-op
// for other indexes. The index and every slice it returned must not be used
// afterwards.
func (ix *Index) Close() error {
	var err error
	ix.closeOnce.Do(func() {
		if ix.release != nil {
			err = ix.release()
		}
	})
	return err
}

func (ix *Index) vec(id int32) []float32 {
	o := int(id) * ix.dim
	return ix.vectors[o : o+ix.dim : o+ix.dim]
}

// dist is the distance from the unit query q to node id: from the float16
// copy during a build that has one, the int8 kernel for an index loaded
// from the int8 form, else exact float32.
func (ix *Index) dist(q []float32, id int32) float32 {
	if ix.half != nil {
		o := int(id) * ix.dim
		return -dotHalf(q, ix.half[o:o+ix.dim:o+ix.dim])
	}
	if ix.codes != nil {
		o := int(id) * ix.dim
		return -dotInt8(q, ix.codes[o:o+ix.dim:o+ix.dim]) * ix.scales[id]
	}
	return -dot(q, ix.vec(id))
}

// level is node id's top level.
func (ix *Index) level(id int32) int {
	return int(ix.upperOff[id+1]-ix.upperOff[id]) / (ix.m + 1)
}

// list is node id's neighbour block at level l: the count, then the slots.
// During a parallel build other goroutines rewrite blocks while this one
// reads them, so every access to a block's elements goes through atomic
// loads and stores (plain MOVs on amd64 and arm64: free for queries).
func (ix *Index) list(id int32, l int) []int32 {
	if l == 0 {
		s := 1 + 2*ix.m
		o := int(id) * s
		return ix.level0[o : o+s : o+s]
	}
	s := 1 + ix.m
	o := int(ix.upperOff[id]) + (l-1)*s
	return ix.upper[o : o+s : o+s]
}

// neighbours appends node id's neighbours at level l to dst.
//
// A built or loaded index is read with one copy. The race detector checks
// a copy as one range but every atomic load as a synchronisation, about
// twenty times the cost: the searches of the suite's tests ran mostly in
// its vector clocks.
func (ix *Index) neighbours(dst []int32, id int32, l int) []int32 {
	b := ix.list(id, l)
	if !ix.parallel {
		c := min(int(b[0]), len(b)-1) // the min never binds for a built or validated index
		return append(dst, b[1:1+c]...)
	}
	c := min(int(atomic.LoadInt32(&b[0])), len(b)-1)
	for j := 1; j <= c; j++ {
		dst = append(dst, atomic.LoadInt32(&b[j]))
	}
	return dst
}
