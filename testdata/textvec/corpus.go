package textvec

import (
	"bufio"
	"bytes"
	"fmt"
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// corpus is every stream's words as FNV-1a hashes, concatenated: stream i
// is words[starts[i]:starts[i+1]]. Words are lower-case letter runs of two
// or more letters.
type corpus struct {
	words  []uint64
	starts []int

	// lastWords keeps the word vectors of the last seed used: they depend
	// on the corpus and the seed only, not on the set's size, and were most
	// of a set's cost when a process makes several with one seed.
	lastWords struct {
		sync.Mutex
		seed int64
		wv   *words
	}
}

// wordVectors returns wordVectors(c, proj), proj being projection(seed),
// computed once for consecutive calls with the same seed. The result is
// read-only.
func (c *corpus) wordVectors(seed int64, proj []uint16) *words {
	c.lastWords.Lock()
	defer c.lastWords.Unlock()
	if c.lastWords.wv == nil || c.lastWords.seed != seed {
		c.lastWords.wv, c.lastWords.seed = wordVectors(c, proj), seed
	}
	return c.lastWords.wv
}

func (c *corpus) streams() int { return len(c.starts) - 1 }

func (c *corpus) stream(i int) []uint64 { return c.words[c.starts[i]:c.starts[i+1]] }

// goRoot finds the Go tree: $GOROOT, then the one this binary was built
// with, then the go command's answer.
func goRoot() (string, error) {
	cands := []string{os.Getenv("GOROOT"), runtime.GOROOT()} //nolint:staticcheck // fallback below
	for _, r := range cands {
		if r != "" && isDir(filepath.Join(r, "src", "runtime")) {
			return r, nil
		}
	}
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("textvec: locate GOROOT: %w", err)
	}
	r := strings.TrimSpace(string(out))
	if !isDir(filepath.Join(r, "src", "runtime")) {
		return "", fmt.Errorf("textvec: GOROOT %q has no source tree", r)
	}
	return r, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

const (
	fortunesDir = "/usr/share/games/fortunes"
	wordnetDir  = "/usr/share/wordnet"
)

// sourceFiles lists a source's files in a fixed order.
func sourceFiles(s Source) ([]string, error) {
	var files []string
	switch s {
	case GoSource:
		root, err := goRoot()
		if err != nil {
			return nil, err
		}
		src := filepath.Join(root, "src")
		err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(p, ".go") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("textvec: walk %s: %w", src, err)
		}
	case Fortunes:
		ents, err := os.ReadDir(fortunesDir)
		if err != nil {
			return nil, fmt.Errorf("textvec: fortunes (Debian package fortunes): %w", err)
		}
		for _, e := range ents {
			// Each collection is NAME, with NAME.dat (an index) and NAME.u8
			// (a symlink) beside it.
			if e.Type().IsRegular() && filepath.Ext(e.Name()) == "" {
				files = append(files, filepath.Join(fortunesDir, e.Name()))
			}
		}
	case WordNet:
		for _, f := range []string{"data.noun", "data.verb", "data.adj", "data.adv"} {
			p := filepath.Join(wordnetDir, f)
			if _, err := os.Stat(p); err != nil {
				return nil, fmt.Errorf("textvec: source %q: %w (Debian package wordnet-base)", s, err)
			}
			files = append(files, p)
		}
	default:
		return nil, fmt.Errorf("textvec: unknown source %q", s)
	}
	sort.Strings(files) // WalkDir is lexical already; ReadDir too; be explicit
	if len(files) == 0 {
		return nil, fmt.Errorf("textvec: source %q has no files", s)
	}
	return files, nil
}

// corpusIdentity names the corpus for the cache key: the files, their sizes
// and modification times, and the Go release.
func corpusIdentity(sources []Source) (string, error) {
	var b strings.Builder
	for _, s := range sources {
		files, err := sourceFiles(s)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s %d\n", s, len(files))
		if s == GoSource {
			// The tree of a release does not change; its VERSION (or the
			// runtime's, for trees without one) names it.
			root, _ := goRoot()
			v, err := os.ReadFile(filepath.Join(root, "VERSION"))
			if err != nil {
				v = []byte(runtime.Version())
			}
			fmt.Fprintf(&b, "%s %s\n", root, bytes.SplitN(v, []byte("\n"), 2)[0])
			continue
		}
		for _, f := range files {
			st, err := os.Stat(f)
			if err != nil {
				return "", fmt.Errorf("textvec: %w", err)
			}
			fmt.Fprintf(&b, "%s %d %d\n", f, st.Size(), st.ModTime().UnixNano())
		}
	}
	return b.String(), nil
}

// loadCorpus reads the sources into word streams, reading files on workers
// goroutines but keeping the streams in file order.
func loadCorpus(sources []Source, workers int) (*corpus, error) {
	type job struct {
		src  Source
		path string
	}
	var jobs []job
	for _, s := range sources {
		files, err := sourceFiles(s)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			jobs = append(jobs, job{s, f})
		}
	}
	results := make([][][]uint64, len(jobs))
	errs := make([]error, len(jobs))
	var next sync.Mutex
	ni := 0
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				next.Lock()
				i := ni
				ni++
				next.Unlock()
				if i >= len(jobs) {
					return
				}
				data, err := os.ReadFile(jobs[i].path)
				if err != nil {
					errs[i] = fmt.Errorf("textvec: %w", err)
					continue
				}
				switch jobs[i].src {
				case GoSource:
					results[i] = [][]uint64{goWords(data)}
				case Fortunes:
					results[i] = fortuneStreams(data)
				case WordNet:
					results[i] = wordnetStreams(data)
				}
			}
		}()
	}
	wg.Wait()
	c := &corpus{starts: []int{0}}
	for i, r := range results {
		if errs[i] != nil {
			return nil, errs[i]
		}
		for _, s := range r {
			if len(s) < minWords {
				continue
			}
			c.words = append(c.words, s...)
			c.starts = append(c.starts, len(c.words))
		}
	}
	if c.streams() == 0 {
		return nil, fmt.Errorf("textvec: the corpus %v has no text", sources)
	}
	return c, nil
}

// goWords is a Go file's text: comments, identifiers (split into words) and
// string literals, in order. Keywords, operators and numbers carry no text.
// License headers, build directives and "Code generated" banners are the
// same in thousands of files, so they are left out.
func goWords(src []byte) []uint64 {
	var s scanner.Scanner
	fset := token.NewFileSet()
	f := fset.AddFile("", -1, len(src))
	s.Init(f, src, func(token.Position, string) {}, scanner.ScanComments)
	var out []uint64
	for {
		_, tok, lit := s.Scan()
		switch tok {
		case token.EOF:
			return out
		case token.COMMENT:
			t := strings.TrimLeft(lit, "/* \t")
			if strings.HasPrefix(t, "Copyright") || strings.HasPrefix(t, "go:") ||
				strings.HasPrefix(t, "Code generated") || strings.HasPrefix(t, "+build") {
				continue
			}
			out = appendWords(out, lit, false)
		case token.IDENT:
			out = appendWords(out, lit, true)
		case token.STRING:
			if u, err := strconv.Unquote(lit); err == nil {
				lit = u
			}
			out = appendWords(out, lit, false)
		}
	}
}

// fortuneStreams splits a fortune file at its "%" lines: one stream per
// fortune.
func fortuneStreams(data []byte) [][]uint64 {
	var out [][]uint64
	var cur []uint64
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "%" {
			out = append(out, cur)
			cur = nil
			continue
		}
		cur = appendWords(cur, line, false)
	}
	return append(out, cur)
}

// wordnetStreams makes one stream per synset: its words and its gloss (the
// text after "|"). License lines start with two spaces.
func wordnetStreams(data []byte) [][]uint64 {
	var out [][]uint64
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "  ") {
			continue
		}
		head, gloss, ok := strings.Cut(line, "|")
		if !ok {
			continue
		}
		var s []uint64
		// Fields: offset lex_filenum ss_type w_cnt (word lex_id)*w_cnt ...
		fs := strings.Fields(head)
		if len(fs) > 4 {
			if cnt, err := strconv.ParseUint(fs[3], 16, 16); err == nil {
				for i := 0; i < int(cnt) && 4+2*i < len(fs); i++ {
					s = appendWords(s, strings.ReplaceAll(fs[4+2*i], "_", " "), false)
				}
			}
		}
		out = append(out, appendWords(s, gloss, false))
	}
	return out
}

// appendWords appends the hashes of text's words: runs of letters, lower
// cased, at least two letters long. With camel set (identifiers) it also
// splits at lower-to-upper changes and before the last capital of an
// acronym: "parseHTTPRequest" -> parse http request.
//
//go:norace
func appendWords(dst []uint64, text string, camel bool) []uint64 {
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	h := uint64(offset64)
	n := 0
	flush := func() {
		if n >= 2 {
			dst = append(dst, h)
		}
		h, n = offset64, 0
	}
	var prev rune
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if !unicode.IsLetter(r) {
			flush()
			prev = 0
			i += size
			continue
		}
		if camel && n > 0 && unicode.IsUpper(r) {
			next, _ := utf8.DecodeRuneInString(text[i+size:])
			if unicode.IsLower(prev) || (unicode.IsUpper(prev) && unicode.IsLower(next)) {
				flush()
			}
		}
		var buf [utf8.UTFMax]byte
		for _, c := range buf[:utf8.EncodeRune(buf[:], unicode.ToLower(r))] {
			h ^= uint64(c)
			h *= prime64
		}
		n++
		prev = r
		i += size
	}
	flush()
	return dst
}
