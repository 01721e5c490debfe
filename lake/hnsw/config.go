package hnsw

import (
	"fmt"
	"runtime"
)

// Defaults of Config, the values of the HNSW paper's and hnswlib's usual
// operating point: recall@10 above 0.95 on 1M 384-d text vectors.
const (
	DefaultM              = 16
	DefaultEfConstruction = 200
	DefaultEfSearch       = 100
)

// Limits checked by Build and by Load. They bound the memory a corrupt header
// can make Load believe in, and keep every count inside an int32.
const (
	maxM     = 256
	maxEf    = 1 << 16
	maxDim   = 1 << 16
	maxLevel = 48 // with M >= 2 a level above 48 has probability 2^-48 per node
)

// Config tunes an index. The zero value means the defaults.
type Config struct {
	// M is the number of neighbours a node keeps on the upper levels; level 0
	// keeps 2*M. Larger M: better recall on hard data, bigger and slower to
	// build. 0 means DefaultM.
	M int
	// EfConstruction is the candidate list size while inserting. 0 means
	// DefaultEfConstruction.
	EfConstruction int
	// EfSearch is the candidate list size Search uses when called with
	// ef <= 0. It is stored in the serialized index. 0 means DefaultEfSearch.
	EfSearch int
	// Seed draws the node levels. Same vectors, same seed and Workers == 1
	// give a byte-identical index.
	Seed int64
	// Workers is the number of goroutines inserting in parallel. 0 means
	// GOMAXPROCS, or one in a binary built with the race detector (tests):
	// there every atomic read of a neighbour list is a synchronisation the
	// detector records, a fifth of the CPU of the suite's search tests,
	// checking nothing but the build's own concurrency, which this
	// package's tests check with Workers set.
	Workers int
}

func (c Config) withDefaults() Config {
	if c.M == 0 {
		c.M = DefaultM
	}
	if c.EfConstruction == 0 {
		c.EfConstruction = DefaultEfConstruction
	}
	if c.EfSearch == 0 {
		c.EfSearch = DefaultEfSearch
	}
	if c.Workers == 0 {
		c.Workers = runtime.GOMAXPROCS(0)
		if raceEnabled {
			c.Workers = 1
		}
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.M < 2 || c.M > maxM:
		return fmt.Errorf("hnsw: M %d out of range [2, %d]", c.M, maxM)
	case c.EfConstruction < 1 || c.EfConstruction > maxEf:
		return fmt.Errorf("hnsw: EfConstruction %d out of range [1, %d]", c.EfConstruction, maxEf)
	case c.EfSearch < 1 || c.EfSearch > maxEf:
		return fmt.Errorf("hnsw: EfSearch %d out of range [1, %d]", c.EfSearch, maxEf)
	case c.Workers < 1:
		return fmt.Errorf("hnsw: Workers %d must be positive", c.Workers)
	}
	return nil
}
