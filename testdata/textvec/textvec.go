// Package textvec makes embedding-like vectors from real text, for testing
// and benchmarking vector search on data with real neighbour structure. No
// embedding model or data set is reachable offline, and uniform random
// vectors make nearest neighbours meaningless; TF-IDF of real text, randomly
// projected to 384 dimensions, has the same kind of structure as sentence
// embeddings of chunked documents: topical clusters, near-duplicates,
// boilerplate, and a long tail of unrelated text.
//
// The pipeline, all deterministic for a seed:
//
//  1. Corpus: word streams. The default is the Go standard library's source
//     tree (comments, identifiers split at camelCase and underscores, and
//     string literals of every .go file under GOROOT/src outside testdata),
//     always present where Go is: about 10M words. Debian's fortunes and
//     WordNet glosses can be added when installed (Options.Sources).
//  2. Documents: windows of Window (64) consecutive words of one stream, the
//     way retrieval systems chunk text. The stride between window starts is
//     the largest that still yields n windows; when the corpus is small for n
//     the windows overlap (as overlapping chunks do), and overlapping windows
//     are each other's true near neighbours. n windows are sampled from all
//     windows at that stride and shuffled, both by the seed.
//  3. Features: word unigrams and bigrams hashed (FNV-1a) into 2^18 buckets,
//     weighted by sublinear tf (1+ln tf) times smoothed idf
//     (ln((1+N)/(1+df))+1) over the n documents.
//  4. Projection to 384 dimensions with a sparse Johnson-Lindenstrauss
//     transform (Kane & Nelson's block construction): each bucket adds its
//     weight with a seeded random sign to one seeded random coordinate in
//     each of 16 blocks of 24 coordinates. It preserves inner products like a
//     dense Gaussian matrix does, at 16 instead of 384 operations per
//     feature.
//  5. L2 normalization.
//
// Results are cached under os.TempDir() (akosha-textvec-<key>.bin, the key
// hashing the options, the generator version and the corpus's identity), so
// only the first run pays for generation (about 10 s for 100k vectors on 2
// cores).
package textvec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// Dim is the dimension of every vector.
const Dim = 384

// Source names a corpus.
type Source string

const (
	// GoSource is the Go standard library's source tree: always available.
	GoSource Source = "go"
	// Fortunes is Debian's fortunes package (/usr/share/games/fortunes).
	Fortunes Source = "fortunes"
	// WordNet is Debian's wordnet-base glosses (/usr/share/wordnet).
	WordNet Source = "wordnet"
)

// Options configure Generate. The zero value (plus N) means the defaults.
type Options struct {
	N    int   // number of vectors
	Seed int64 // sampling, order and projection
	// Window is the number of words per document; 0 means 64.
	Window int
	// Sources are the corpora; nil means GoSource alone, which makes the
	// vectors the same on every machine with the same Go release.
	Sources []Source
	// CacheDir holds cached results; "" means os.TempDir(), "-" disables
	// the cache.
	CacheDir string
}

const (
	defaultWindow = 64
	minWords      = 8  // a stream shorter than this makes no document
	hashBits      = 18 // feature buckets: 2^18
	jlBlocks      = 16 // nonzeros per bucket in the projection
	version       = 1  // of the generator: part of the cache key
)

// Vectors returns n vectors of dimension Dim from the Go source tree, flat:
// vector i is at [i*Dim, (i+1)*Dim). The same n and seed give the same
// vectors for the same Go release; a larger n is not a superset of a smaller
// one, so take queries from the same call (e.g. the last rows).
func Vectors(n int, seed int64) ([]float32, error) {
	return Generate(Options{N: n, Seed: seed})
}

// Generate returns opts.N vectors as Vectors does, from the configured
// corpora.
func Generate(opts Options) ([]float32, error) {
	if opts.N < 0 {
		return nil, fmt.Errorf("textvec: negative count %d", opts.N)
	}
	if opts.Window == 0 {
		opts.Window = defaultWindow
	}
	if opts.Window < minWords || opts.Window > 1<<12 {
		return nil, fmt.Errorf("textvec: window %d out of range [%d, %d]", opts.Window, minWords, 1<<12)
	}
	if len(opts.Sources) == 0 {
		opts.Sources = []Source{GoSource}
	}
	if opts.N == 0 {
		return []float32{}, nil
	}
	id, err := corpusIdentity(opts.Sources)
	if err != nil {
		return nil, err
	}
	path := ""
	if opts.CacheDir != "-" {
		dir := opts.CacheDir
		if dir == "" {
			dir = os.TempDir()
		}
		path = filepath.Join(dir, "akosha-textvec-"+cacheKey(opts, id)+".bin")
		if v, err := readCache(path, opts.N); err == nil {
			return v, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			// A torn or foreign file: regenerate and overwrite it.
			_ = os.Remove(path)
		}
	}

	streams, err := loadCorpus(opts.Sources, runtime.GOMAXPROCS(0))
	if err != nil {
		return nil, err
	}
	docs, err := sampleWindows(streams, opts.N, opts.Window, opts.Seed)
	if err != nil {
		return nil, err
	}
	v := vectorize(streams, docs, opts.Seed, runtime.GOMAXPROCS(0))
	if path != "" {
		// The cache only saves time: failing to write it is not an error.
		_ = writeCache(path, v, opts.N)
	}
	return v, nil
}
