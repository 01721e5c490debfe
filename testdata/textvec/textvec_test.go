package textvec

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestVectors(t *testing.T) {
	const n = 3000
	dir := t.TempDir()
	a, err := Generate(Options{N: n, Seed: 5, CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != n*Dim {
		t.Fatalf("%d floats, want %d", len(a), n*Dim)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "akosha-textvec-*.bin"))
	if len(files) != 1 {
		t.Fatalf("cache files: %v", files)
	}
	// From the cache, and generated afresh: identical.
	b, err := Generate(Options{N: n, Seed: 5, CacheDir: dir})
	if err != nil || !slices.Equal(a, b) {
		t.Fatalf("cached vectors differ (err %v)", err)
	}
	c, err := Generate(Options{N: n, Seed: 5, CacheDir: "-"})
	if err != nil || !slices.Equal(a, c) {
		t.Fatalf("regenerated vectors differ (err %v)", err)
	}
	// A torn cache file is regenerated, not trusted.
	if err := os.Truncate(files[0], 100); err != nil {
		t.Fatal(err)
	}
	if d, err := Generate(Options{N: n, Seed: 5, CacheDir: dir}); err != nil || !slices.Equal(a, d) {
		t.Fatalf("after a torn cache file: err %v", err)
	}

	for i := range n {
		v := a[i*Dim : (i+1)*Dim]
		var ss float64
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatalf("vector %d has %v", i, x)
			}
			ss += float64(x) * float64(x)
		}
		if math.Abs(ss-1) > 1e-4 {
			t.Fatalf("vector %d has norm² %v", i, ss)
		}
	}

	// Real neighbour structure: a document's nearest neighbour is far closer
	// than a random document, and the tenth nearest still clearly so.
	var top1, top10, random float64
	const probes = 100
	for p := range probes {
		q := a[p*Dim : (p+1)*Dim]
		scores := make([]float64, 0, n-1)
		for j := range n {
			if j != p {
				scores = append(scores, dot(q, a[j*Dim:(j+1)*Dim]))
			}
		}
		random += scores[(p*7919)%len(scores)]
		slices.Sort(scores)
		top1 += scores[len(scores)-1]
		top10 += scores[len(scores)-10]
	}
	top1, top10, random = top1/probes, top10/probes, random/probes
	t.Logf("mean cosine: nearest %.3f, 10th nearest %.3f, random %.3f", top1, top10, random)
	if top1 < 0.4 || top10 < 0.25 || math.Abs(random) > 0.1 {
		t.Errorf("no neighbour structure: nearest %.3f, 10th %.3f, random %.3f", top1, top10, random)
	}

	// Another seed: other documents.
	e, err := Generate(Options{N: 10, Seed: 6, CacheDir: "-"})
	if err != nil || slices.Equal(a[:10*Dim], e) {
		t.Fatalf("seed 6 gave seed 5's vectors (err %v)", err)
	}
}

func TestTooMany(t *testing.T) {
	if _, err := Generate(Options{N: 1 << 40, CacheDir: "-"}); err == nil {
		t.Fatal("a trillion windows from the Go tree")
	}
	if _, err := Generate(Options{N: -1}); err == nil {
		t.Fatal("negative count accepted")
	}
	if v, err := Generate(Options{N: 0}); err != nil || len(v) != 0 {
		t.Fatalf("n=0: %v %v", len(v), err)
	}
}

func TestDebianSources(t *testing.T) {
	for _, s := range []Source{Fortunes, WordNet} {
		t.Run(string(s), func(t *testing.T) {
			if _, err := sourceFiles(s); err != nil {
				t.Skipf("not installed: %v", err)
			}
			if _, err := os.Stat(fortunesDir); s == Fortunes && err != nil {
				t.Skip("fortunes not installed")
			}
			v, err := Generate(Options{N: 500, Seed: 1, Sources: []Source{s}, CacheDir: "-"})
			if err != nil {
				t.Fatal(err)
			}
			if len(v) != 500*Dim {
				t.Fatalf("%d floats", len(v))
			}
		})
	}
}

func TestWords(t *testing.T) {
	got := appendWords(nil, "parseHTTPRequest x_y2 Straße", true)
	want := appendWords(nil, "parse http request straße", false)
	if !slices.Equal(got, want) {
		t.Fatalf("camel split: %d words, want %d", len(got), len(want))
	}
	src := []byte("// Copyright 2009 The Go Authors.\n\npackage foo\n\n// Reader reads bytes.\nfunc newReader() string { return \"hello world\" }\n")
	if got, want := len(goWords(src)), len(appendWords(nil, "foo reader reads bytes new reader string hello world", false)); got != want {
		t.Fatalf("goWords: %d words, want %d", got, want)
	}
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// The corpus is cached as a file too: read back it is the same corpus, and
// a torn or foreign file is refused (and rebuilt by cachedCorpus).
func TestCorpusCache(t *testing.T) {
	c, err := loadCorpus([]Source{GoSource}, 2)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "corpus.bin")
	if err := writeCorpusCache(path, c); err != nil {
		t.Fatal(err)
	}
	back, err := readCorpusCache(path)
	if err != nil || !slices.Equal(back.words, c.words) || !slices.Equal(back.starts, c.starts) {
		t.Fatalf("read back: err %v", err)
	}
	st, _ := os.Stat(path)
	for _, size := range []int64{0, 10, 24, st.Size() - 8} {
		if err := os.Truncate(path, size); err != nil {
			t.Fatal(err)
		}
		if _, err := readCorpusCache(path); err == nil {
			t.Fatalf("a file cut at %d bytes was read", size)
		}
	}
	if _, err := readCorpusCache(filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

// WarmCache leaves the corpus file where Generate looks for it, readable;
// it needs a directory.
func TestWarmCache(t *testing.T) {
	dir := t.TempDir()
	if err := WarmCache(nil, dir); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "akosha-textcorpus-*.bin"))
	if len(files) != 1 {
		t.Fatalf("corpus files: %v", files)
	}
	if _, err := readCorpusCache(files[0]); err != nil {
		t.Fatalf("the warmed file does not read: %v", err)
	}
	if err := WarmCache(nil, "-"); err == nil {
		t.Fatal("WarmCache without a directory succeeded")
	}
}
