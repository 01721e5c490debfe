// Package textvec makes embedding-like vectors from real text, for testing
// and benchmarking vector search on data with real neighbour structure. No
// embedding model or data set is reachable offline, and uniform random
// vectors make nearest neighbours meaningless. These vectors have the
// structure of sentence embeddings of chunked documents: topical clusters,
// near-duplicates (the same code vendored twice), boilerplate, and a long
// tail of unrelated text; and their score profile (mean cosine 0.01 between
// random documents, 0.7 to the nearest, 0.55 to the tenth nearest).
//
// The pipeline, all deterministic for a seed:
//
//  1. Corpus: word streams. The default is the Go standard library's source
//     tree (comments, identifiers split at camelCase and underscores, and
//     string literals of every .go file under GOROOT/src outside testdata;
//     license headers left out), always present where Go is: about 10M
//     words. Debian's fortunes and WordNet glosses can be added when
//     installed (Options.Sources).
//  2. Documents: windows of Window (64) consecutive words of one stream, the
//     way retrieval systems chunk text. The stride between window starts is
//     the largest that still yields n windows; when the corpus is small for n
//     the windows overlap (as overlapping chunks do), and overlapping windows
//     are each other's true near neighbours. n windows are sampled from all
//     windows at that stride and shuffled, both by the seed. Nothing is
//     invented: every document is a real passage.
//  3. Lexical part: word unigrams and bigrams hashed (FNV-1a) into 2^18
//     buckets, weighted by sublinear tf (1+ln tf) times smoothed idf
//     (ln((1+N)/(1+df))+1) over the n documents, and projected to 384
//     dimensions with a sparse Johnson-Lindenstrauss transform (Kane &
//     Nelson's block construction: each bucket adds its weight with a seeded
//     random sign to one seeded random coordinate in each of 16 blocks of 24),
//     which preserves inner products like a dense Gaussian matrix at 16
//     instead of 384 operations per feature.
//  4. Semantic part: the tf-idf-weighted sum of the document's word vectors,
//     made by Random Indexing over the whole corpus (see wordVectors): the
//     same random projection applied to each word's co-occurrence counts, so
//     documents on one topic in different words still come out close.
//  5. The two parts, each normalized, mixed equally (see lexicalWeight for
//     why TF-IDF alone is not enough), centred on the mean document and
//     L2-normalized.
//
// Results are cached under os.TempDir() (akosha-textvec-<key>.bin, the key
// hashing the options, the generator version and the corpus's identity), so
// only the first run pays for generation: about 5 s for 100k vectors and
// 30 s for 1M on 2 cores.
package textvec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
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
	version       = 2  // of the generator: part of the cache key
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

	streams, err := cachedCorpus(opts.Sources, opts.CacheDir, id)
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

// corpora keeps loaded corpora for the life of the process: a test run
// generates several sets from one corpus, and reading it is most of a small
// set's cost. A corpus is read-only once loaded. Across processes it is
// cached as a file beside the vectors: scanning the Go tree costs seconds,
// and under -race (every test package generating a set it has not cached)
// several times more.
var corpora struct {
	sync.Mutex
	m map[string]*corpus
}

func cachedCorpus(sources []Source, cacheDir, id string) (*corpus, error) {
	key := fmt.Sprint(sources)
	corpora.Lock()
	defer corpora.Unlock()
	if c := corpora.m[key]; c != nil {
		return c, nil
	}
	path := corpusPath(sources, cacheDir, id)
	c, err := readCorpusCache(path)
	if err != nil {
		if c, err = loadCorpus(sources, runtime.GOMAXPROCS(0)); err != nil {
			return nil, err
		}
		if path != "" {
			_ = writeCorpusCache(path, c) // only saves time
		}
	}
	if corpora.m == nil {
		corpora.m = map[string]*corpus{}
	}
	corpora.m[key] = c
	return c, nil
}

// corpusPath is where the corpus of sources is cached in cacheDir (""
// means os.TempDir()); "" when cacheDir is "-" (no cache).
func corpusPath(sources []Source, cacheDir, id string) string {
	switch cacheDir {
	case "-":
		return ""
	case "":
		cacheDir = os.TempDir()
	}
	return filepath.Join(cacheDir, "akosha-textcorpus-"+corpusKey(sources, id)+".bin")
}

// WarmCache loads the corpus of sources (nil: GoSource) and writes its
// cache file to cacheDir ("" means os.TempDir()), so that processes
// started later read the file instead of scanning the sources. make test
// runs it once before the suite: a test binary built with -race scans the
// Go tree about seven times slower than one without.
func WarmCache(sources []Source, cacheDir string) error {
	if len(sources) == 0 {
		sources = []Source{GoSource}
	}
	if cacheDir == "-" {
		return errors.New("textvec: WarmCache needs a cache directory")
	}
	id, err := corpusIdentity(sources)
	if err != nil {
		return err
	}
	path := corpusPath(sources, cacheDir, id)
	if _, err := readCorpusCache(path); err == nil {
		return nil
	}
	// The corpus may be in this process's memory already, without a file.
	c, err := cachedCorpus(sources, cacheDir, id)
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); err == nil {
		return nil // cachedCorpus loaded and wrote it
	}
	if err := writeCorpusCache(path, c); err != nil {
		return fmt.Errorf("textvec: write %s: %w", path, err)
	}
	return nil
}
