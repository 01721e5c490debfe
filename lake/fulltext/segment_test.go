package fulltext

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// tiny is the corpus of the BM25 reference tests. bm25() of FTS5 (SQLite
// 3.40.1) over a table fts5(content, tags) of these rows, negated, is
// fts5Scores.
var tiny = []Doc{
	{Content: "The cat sat on the mat."},
	{Content: "A dog chased the cat; the cat ran.", Tags: []string{"pets"}},
	{Content: "Dogs and cats, living together!", Tags: []string{"chaos"}},
	{Content: "Café crème, s'il vous plaît", Tags: []string{"cafe"}},
	{Content: "Parquet files and Delta logs", Tags: []string{"lake", "delta"}},
	{Content: "", Tags: []string{"cat"}},
	{Content: "the the the the"},
	{Content: "A bird"},
}

var fts5Scores = []struct {
	query string
	match Match
	want  []Hit
}{
	{"cat", MatchAll, []Hit{{5, 0.6757835830721438}, {1, 0.517514565475322}, {0, 0.42702888991675353}}},
	{"cat dog", MatchAll, []Hit{{1, 1.7630092313790984}}},
	{"cat dog", MatchAny, []Hit{{1, 1.7630092313790984}, {5, 0.6757835830721438}, {0, 0.42702888991675353}}},
	{"cafe", MatchAll, []Hit{{3, 2.023293375631441}}},
	{"delta", MatchAll, []Hit{{4, 2.023293375631441}}},
	{"the", MatchAll, []Hit{{6, 0.7977731697012127}, {0, 0.5974738974800929}, {1, 0.517514565475322}}},
	{"cat cat", MatchAll, []Hit{{5, 1.3515671661442876}, {1, 1.035029130950644}, {0, 0.8540577798335071}}},
	{"the bird", MatchAny, []Hit{{7, 2.1552472914334913}, {6, 0.7977731697012127}, {0, 0.5974738974800929}, {1, 0.517514565475322}}},
}

func buildSegment(t testing.TB, docs []Doc) *Segment {
	t.Helper()
	b := NewBuilder()
	for i, d := range docs {
		if err := b.Add(uint32(i), d); err != nil {
			t.Fatal(err)
		}
	}
	return openBuilt(t, b)
}

func openBuilt(t testing.TB, b *Builder) *Segment {
	t.Helper()
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	s, err := Open(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(); err != nil {
		t.Fatal(err)
	}
	return s
}

func closeTo(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

func TestBM25MatchesFTS5(t *testing.T) {
	seg := buildSegment(t, tiny)
	texts := NewTexts(tiny)
	for _, c := range fts5Scores {
		for name, s := range map[string]Searcher{"segment": seg, "texts": texts} {
			got, err := s.Search(ParseQuery(c.query, c.match), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Errorf("%s %q %v: %v, want %v", name, c.query, c.match, got, c.want)
				continue
			}
			for i := range got {
				if got[i].Doc != c.want[i].Doc || !closeTo(got[i].Score, c.want[i].Score) {
					t.Errorf("%s %q %v: hit %d is %v, FTS5 %v", name, c.query, c.match, i, got[i], c.want[i])
				}
			}
		}
	}
}

// TestBM25HandComputed spells the formula out on the tiny corpus: 8
// documents of 42 tokens (content and tags), avgdl 5.25.
func TestBM25HandComputed(t *testing.T) {
	seg := buildSegment(t, tiny)
	if seg.Docs() != 8 || seg.Tokens() != 42 {
		t.Fatalf("%d docs, %d tokens", seg.Docs(), seg.Tokens())
	}
	const n, avgdl = 8.0, 42.0 / 8
	bm := func(idf, tf, dl, k1, b float64) float64 {
		return idf * tf * (k1 + 1) / (tf + k1*(1-b+b*dl/avgdl))
	}
	// "cat": in docs 0 (6 tokens, once), 1 (9 tokens, twice), 5 (1 token).
	idfCat := math.Log((n - 3 + 0.5) / (3 + 0.5))
	for _, p := range []BM25{{}, {K1: 2, B: 0.5}, {K1: 0.5, B: 0}, {K1: 1.2, B: 1}} {
		q := p
		if q == (BM25{}) {
			q = DefaultBM25
		}
		want := map[uint32]float64{
			0: bm(idfCat, 1, 6, q.K1, q.B),
			1: bm(idfCat, 2, 9, q.K1, q.B),
			5: bm(idfCat, 1, 1, q.K1, q.B),
		}
		got, err := seg.Search(ParseQuery("CAT", MatchAll), Options{BM25: p})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("%+v: %v", p, got)
		}
		for _, h := range got {
			if !closeTo(h.Score, want[h.Doc]) {
				t.Errorf("%+v: doc %d scores %v, want %v", p, h.Doc, h.Score, want[h.Doc])
			}
		}
	}
	// "the" is in 3 of 8 documents too; "and" in 2 (idf ln(6.5/2.5)).
	// A term in more than half the documents gets FTS5's floor of 1e-6.
	if got := idf(8, 5); got != 1e-6 {
		t.Errorf("idf(8, 5) = %v, want 1e-6", got)
	}
	got, err := seg.Search(ParseQuery("and", MatchAll), Options{})
	if err != nil {
		t.Fatal(err)
	}
	idfAnd := math.Log(6.5 / 2.5)
	want := []Hit{{2, bm(idfAnd, 1, 6, 1.2, 0.75)}, {4, bm(idfAnd, 1, 7, 1.2, 0.75)}}
	if len(got) != 2 || got[0].Doc != want[0].Doc || !closeTo(got[0].Score, want[0].Score) ||
		got[1].Doc != want[1].Doc || !closeTo(got[1].Score, want[1].Score) {
		t.Errorf("and: %v, want %v", got, want)
	}
}

func TestBM25Params(t *testing.T) {
	seg := buildSegment(t, tiny)
	for _, p := range []BM25{{K1: -1, B: 0.5}, {K1: 1, B: 1.5}, {K1: math.NaN(), B: 0.5}, {K1: 1, B: math.Inf(1)}} {
		if _, err := seg.Search(ParseQuery("cat", MatchAll), Options{BM25: p}); err == nil {
			t.Errorf("%+v: no error", p)
		}
	}
	if _, err := seg.Search(ParseQuery("cat", MatchAll), Options{K: -1}); err == nil {
		t.Error("k -1: no error")
	}
	if _, err := seg.Search(Query{Terms: []string{"cat"}, Match: 7}, Options{}); err == nil {
		t.Error("match 7: no error")
	}
	st := Stats{Docs: 8, Tokens: 42, DF: map[string]int64{}}
	if _, err := seg.Search(ParseQuery("cat", MatchAll), Options{Stats: &st}); err == nil {
		t.Error("statistics without the term: no error")
	}
}

func TestEmptyAndMissing(t *testing.T) {
	seg := buildSegment(t, tiny)
	for _, q := range []Query{
		ParseQuery("", MatchAll), ParseQuery("...", MatchAny),
		ParseQuery("zebra", MatchAll), ParseQuery("zebra", MatchAny), ParseQuery("cat zebra", MatchAll),
	} {
		got, err := seg.Search(q, Options{})
		if err != nil || len(got) != 0 {
			t.Errorf("%+v: %v, %v", q, got, err)
		}
	}
	// A missing term does not stop MatchAny.
	got, _ := seg.Search(ParseQuery("zebra bird", MatchAny), Options{})
	if len(got) != 1 || got[0].Doc != 7 {
		t.Errorf("zebra OR bird: %v", got)
	}
	empty := buildSegment(t, nil)
	if got, err := empty.Search(ParseQuery("cat", MatchAny), Options{}); err != nil || len(got) != 0 {
		t.Errorf("empty segment: %v, %v", got, err)
	}
}

func TestAddOrder(t *testing.T) {
	b := NewBuilder()
	if err := b.Add(5, Doc{Content: "x"}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []uint32{5, 4, 0} {
		if err := b.Add(n, Doc{Content: "y"}); err == nil {
			t.Errorf("add %d after 5: no error", n)
		}
	}
	if err := b.Add(maxDocSpan, Doc{}); err == nil {
		t.Error("add beyond the limit: no error")
	}
	if err := b.Add(9, Doc{Content: "x y"}); err != nil {
		t.Fatal(err)
	}
	s := openBuilt(t, b)
	if s.Docs() != 2 || s.DocSpan() != 10 || s.Tokens() != 3 {
		t.Errorf("docs %d span %d tokens %d", s.Docs(), s.DocSpan(), s.Tokens())
	}
	got, _ := s.Search(ParseQuery("x", MatchAll), Options{})
	if len(got) != 2 || got[0].Doc != 5 || got[1].Doc != 9 {
		t.Errorf("x: %v", got)
	}
	if _, err := s.DocLen(10); err == nil {
		t.Error("DocLen beyond the span: no error")
	}
}

// corpus makes n documents over a Zipf-distributed vocabulary, so that the
// commonest terms span many skip blocks and the rarest one document.
func corpus(seed uint64, n, vocab int) []Doc {
	r := rand.New(rand.NewPCG(seed, 1))
	z := rand.NewZipf(r, 1.1, 2, uint64(vocab-1))
	docs := make([]Doc, n)
	for i := range docs {
		var b strings.Builder
		for range 3 + r.IntN(40) {
			fmt.Fprintf(&b, "w%d ", z.Uint64())
		}
		docs[i].Content = b.String()
		if r.IntN(3) == 0 {
			docs[i].Tags = []string{fmt.Sprintf("w%d", z.Uint64()), "Tag"}
		}
	}
	return docs
}

// refIndex scores every document by the formula, exhaustively: the
// reference the searches are checked against.
type refIndex struct {
	docs   []refDoc
	df     map[string]int
	tokens int
}

type refDoc struct {
	tf  map[string]int
	len int
}

func newRef(docs []Doc) *refIndex {
	r := &refIndex{docs: make([]refDoc, len(docs)), df: map[string]int{}}
	for i, d := range docs {
		rd := &r.docs[i]
		rd.tf = map[string]int{}
		for _, s := range append([]string{d.Content}, d.Tags...) {
			for _, t := range Tokens(s) {
				if rd.tf[t] == 0 {
					r.df[t]++
				}
				rd.tf[t]++
				rd.len++
			}
		}
		r.tokens += rd.len
	}
	return r
}

func (r *refIndex) search(q Query, k int, p BM25, allow func(uint32) bool) []Hit {
	if p == (BM25{}) {
		p = DefaultBM25
	}
	avgdl := float64(r.tokens) / float64(len(r.docs))
	var hits []Hit
	for i, d := range r.docs {
		matched, all := false, true
		score := 0.0
		for _, t := range q.Terms {
			tf := float64(d.tf[t])
			if tf == 0 {
				all = false
				continue
			}
			matched = true
			score += idf(int64(len(r.docs)), int64(r.df[t])) * ((tf * (p.K1 + 1)) / (tf + p.K1*(1-p.B+p.B*float64(d.len)/avgdl)))
		}
		if !matched || (q.Match == MatchAll && !all) || (allow != nil && !allow(uint32(i))) {
			continue
		}
		hits = append(hits, Hit{uint32(i), score})
	}
	slices.SortStableFunc(hits, func(a, b Hit) int {
		if a.Score > b.Score {
			return -1
		}
		if a.Score < b.Score {
			return 1
		}
		return 0
	})
	return hits[:min(k, len(hits))]
}

func sameHits(got, want []Hit) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].Doc != want[i].Doc || !closeTo(got[i].Score, want[i].Score) {
			return false
		}
	}
	return true
}

// TestSearchMatchesReference: the segment (skip tables, MaxScore) and
// Texts find exactly the exhaustive reference's hits, with and without a
// filter, for both matches and several k and parameters.
func TestSearchMatchesReference(t *testing.T) {
	docs := corpus(1, 1500, 300)
	seg := buildSegment(t, docs)
	texts := NewTexts(docs)
	ref := newRef(docs)
	r := rand.New(rand.NewPCG(2, 2))
	evens := func(d uint32) bool { return d%2 == 0 }
	rare := func(d uint32) bool { return d%97 == 3 }
	queries := 150
	if raceEnabled {
		queries = 50
	}
	for i := range queries {
		d := docs[r.IntN(len(docs))]
		words := Tokens(d.Content)
		var terms []string
		for range 1 + r.IntN(4) {
			terms = append(terms, words[r.IntN(len(words))])
		}
		if i%10 == 0 {
			terms = append(terms, "w0") // the commonest term: many blocks
		}
		if i%7 == 0 {
			terms = append(terms, "absent")
		}
		m := Match(i % 2)
		q := Query{Terms: terms, Match: m}
		k := []int{1, 10, 50}[i%3]
		p := []BM25{{}, {K1: 2, B: 0.3}}[i%2]
		allow := []func(uint32) bool{nil, evens, rare}[i%3]
		want := ref.search(q, k, p, allow)
		for name, s := range map[string]Searcher{"segment": seg, "texts": texts} {
			got, err := s.Search(q, Options{K: k, BM25: p, Allow: allow})
			if err != nil {
				t.Fatal(err)
			}
			if !sameHits(got, want) {
				t.Fatalf("%s %v k=%d %+v: got %v\nwant %v", name, q, k, p, got, want)
			}
		}
	}
}

// TestMergedStats: a corpus split over three segments and a Texts,
// searched with merged statistics, gives the scores and the top k of one
// segment of everything.
func TestMergedStats(t *testing.T) {
	docs := corpus(3, 1200, 200)
	whole := buildSegment(t, docs)
	parts := []Searcher{
		buildSegment(t, docs[:500]),
		buildSegment(t, docs[500:900]),
		buildSegment(t, docs[900:1150]),
		NewTexts(docs[1150:]),
	}
	starts := []uint32{0, 500, 900, 1150}
	r := rand.New(rand.NewPCG(4, 4))
	for i := range 60 {
		words := Tokens(docs[r.IntN(len(docs))].Content)
		q := Query{Terms: []string{words[r.IntN(len(words))], words[r.IntN(len(words))]}, Match: Match(i % 2)}
		want, err := whole.Search(q, Options{K: 20})
		if err != nil {
			t.Fatal(err)
		}
		got, err := SearchAll(q, Options{K: 20}, parts...)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%v: %d hits, want %d", q, len(got), len(want))
		}
		for j := range got {
			doc := starts[got[j].Source] + got[j].Doc
			if doc != want[j].Doc || got[j].Score != want[j].Score {
				t.Fatalf("%v hit %d: doc %d score %v, want %v", q, j, doc, got[j].Score, want[j])
			}
		}
	}
	// The statistics merge to the whole's.
	terms := []string{"w0", "w7", "tag", "absent"}
	var all []Stats
	for _, p := range parts {
		st, _ := p.Stats(terms)
		all = append(all, st)
	}
	m := MergeStats(all...)
	w, _ := whole.Stats(terms)
	if m.Docs != w.Docs || m.Tokens != w.Tokens || fmt.Sprint(m.DF) != fmt.Sprint(w.DF) {
		t.Errorf("merged %+v, whole %+v", m, w)
	}
}

// TestAllowInsideSearch: with a filter, k hits come back as long as k
// admitted documents match, however far down the unfiltered ranking they
// are.
func TestAllowInsideSearch(t *testing.T) {
	docs := corpus(5, 800, 100)
	seg := buildSegment(t, docs)
	only := map[uint32]bool{13: true, 401: true, 777: true}
	calls := 0
	allow := func(d uint32) bool { calls++; return only[d] }
	for _, m := range []Match{MatchAll, MatchAny} {
		got, err := seg.Search(Query{Terms: []string{"w0"}, Match: m}, Options{K: 10, Allow: allow})
		if err != nil {
			t.Fatal(err)
		}
		want := newRef(docs).search(Query{Terms: []string{"w0"}, Match: m}, 10, BM25{}, func(d uint32) bool { return only[d] })
		if !sameHits(got, want) || len(got) == 0 {
			t.Errorf("%v: %v, want %v", m, got, want)
		}
		for _, h := range got {
			if !only[h.Doc] {
				t.Errorf("%v: doc %d is not allowed", m, h.Doc)
			}
		}
	}
	if calls == 0 {
		t.Error("the filter was never called")
	}
}

func segmentBytes(t testing.TB, docs []Doc) []byte {
	b := NewBuilder()
	for i, d := range docs {
		if err := b.Add(uint32(i), d); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTripDeterministic(t *testing.T) {
	docs := corpus(6, 300, 50)
	a, b := segmentBytes(t, docs), segmentBytes(t, docs)
	if !bytes.Equal(a, b) {
		t.Fatal("two builds of the same documents differ")
	}
	s, err := Open(a)
	if err != nil {
		t.Fatal(err)
	}
	if s.Docs() != 300 || s.Terms() == 0 {
		t.Fatalf("docs %d terms %d", s.Docs(), s.Terms())
	}
	for i, d := range docs[:20] {
		n := uint32(len(Tokens(d.Content)))
		for _, tag := range d.Tags {
			n += uint32(len(Tokens(tag)))
		}
		if got, _ := s.DocLen(uint32(i)); got != n {
			t.Errorf("doc %d: length %d, want %d", i, got, n)
		}
	}
}

// TestCorruptInput: every truncation and every single-byte change of a
// segment is an error wrapping ErrCorrupt (the checksums see them); with
// the checksums recomputed, changes get past Open and must fail cleanly
// in Verify or in a search, or not matter.
func TestCorruptInput(t *testing.T) {
	data := segmentBytes(t, corpus(7, 150, 30))
	for n := 0; n < len(data); n++ {
		if _, err := Open(data[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d bytes: %v", n, err)
		}
	}
	if _, err := Open(append(bytes.Clone(data), 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a trailing byte: %v", err)
	}
	r := rand.New(rand.NewPCG(8, 8))
	changes := 1000
	if raceEnabled {
		changes = 150
	}
	for range changes {
		bad := bytes.Clone(data)
		i := r.IntN(len(bad))
		bad[i] ^= byte(1 + r.IntN(255))
		if _, err := Open(bad); err == nil {
			t.Fatalf("byte %d changed: opened", i)
		} else if !errors.Is(err, ErrCorrupt) && !strings.Contains(err.Error(), "version") {
			t.Fatalf("byte %d changed: %v", i, err)
		}
		fixChecksums(bad)
		exercise(bad) // must not panic
	}
}

// fixChecksums rewrites a segment's two checksums to match its bytes, so
// that changed bytes reach the structural checks.
func fixChecksums(b []byte) {
	if len(b) < headerSize {
		return
	}
	binary.LittleEndian.PutUint32(b[56:], crc32.Checksum(b[headerSize:], castagnoli))
	binary.LittleEndian.PutUint32(b[60:], crc32.Checksum(b[:60], castagnoli))
}

// exercise opens data and runs what a reader would: Verify, statistics,
// and searches of both kinds for terms of its own and others.
func exercise(data []byte) {
	s, err := Open(data)
	if err != nil {
		return
	}
	_ = s.Verify()
	terms := []string{"w0", "w1", "w2", "w17", "tag", "zz"}
	if s.Terms() > 0 {
		if t, err := s.term(s.Terms() / 2); err == nil {
			terms = append(terms, string(t))
		}
	}
	_, _ = s.Stats(terms)
	for _, m := range []Match{MatchAll, MatchAny} {
		for i := range terms {
			q := Query{Terms: terms[i : i+min(3, len(terms)-i)], Match: m}
			_, _ = s.Search(q, Options{K: 5})
			_, _ = s.Search(q, Options{K: 3, Allow: func(d uint32) bool { return d%2 == 1 }})
		}
	}
	for d := uint32(0); d < min(s.DocSpan(), 50); d++ {
		_, _ = s.DocLen(d)
	}
}

func FuzzSegment(f *testing.F) {
	f.Add(segmentBytes(f, tiny))
	f.Add(segmentBytes(f, corpus(9, 300, 20))) // skip tables
	f.Add(segmentBytes(f, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		exercise(data)
		fixed := bytes.Clone(data)
		fixChecksums(fixed)
		exercise(fixed)
	})
}
