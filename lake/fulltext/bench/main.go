// Command bench compares lake/fulltext with SQLite FTS5 on the same texts
// and queries, in one run: it writes the documents and queries to a file,
// runs fts5_peer.py on it (Debian's python3, whose sqlite3 has FTS5), then
// builds and queries our segment, and prints one markdown table: index
// build time, size, single-core queries/s for MatchAll (FTS5's bare query)
// and MatchAny (FTS5's OR), and how far our top 10 agrees with bm25()'s.
//
//	go run ./lake/fulltext/bench -corpus fortunes
//	go run ./lake/fulltext/bench -corpus fleet -n 1000000
//
// Corpora: "fortunes", Debian's fortunes package (every collection under
// /usr/share/games/fortunes, split at lines holding only "%", the
// collection's name as the tag), and "fleet", gen.SessionText memories
// with gen.SessionTags. Queries are 1, 2 or 3 terms (a third each) drawn
// from the tokens of random documents, so frequent words are drawn as often
// as they occur and every MatchAll query has at least one hit.
//
// Both sides build on one core (this process runs with GOMAXPROCS 1 once
// the corpus is made; FTS5 is single-threaded) and query on one thread; the
// build is timed from documents in memory to a finished index file (FTS5
// with 'optimize', the form it queries fastest); each query set is timed as
// the fastest of -reps passes.
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/akosha/akosha/internal/cputime"
	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/lake/fulltext"
)

const k = 10

type modeResult struct {
	QPS  float64     `json:"qps"`
	Hits [][]hitJSON `json:"hits"`
}

// hitJSON is [rowid, score].
type hitJSON [2]float64

type peerReport struct {
	Library    string                `json:"library"`
	Version    string                `json:"version"`
	Insert     float64               `json:"insert_seconds"`
	Build      float64               `json:"build_seconds"`
	BuildCPU   float64               `json:"build_cpu_seconds"`
	Bytes      int64                 `json:"bytes"`
	Modes      map[string]modeResult `json:"modes"`
	runSeconds float64
}

type ours struct {
	build, buildCPU float64
	bytes           int64
	terms           int
	qps             map[fulltext.Match]float64
	hits            map[fulltext.Match][][]fulltext.Hit
}

func main() {
	_, self, _, _ := runtime.Caller(0)
	var (
		corpus  = flag.String("corpus", "fortunes", "fortunes or fleet")
		n       = flag.Int("n", 1_000_000, "fleet: documents")
		nq      = flag.Int("queries", 200, "queries")
		seed    = flag.Uint64("seed", 1, "fleet texts and query draws")
		reps    = flag.Int("reps", 3, "query passes per mode; the fastest counts")
		preps   = flag.Int("peerreps", 0, "query passes per mode for the peer; 0 means -reps")
		python  = flag.String("python", "/usr/bin/python3", "interpreter whose sqlite3 has FTS5")
		peer    = flag.String("peer", filepath.Join(filepath.Dir(self), "fts5_peer.py"), "peer script; empty to skip")
		dir     = flag.String("dir", "", "where the data, segment and FTS5 files go (default: the temp dir)")
		cpuprof = flag.String("cpuprofile", "", "write a CPU profile of our build to this file")
		qprof   = flag.String("qprofile", "", "write a CPU profile of our queries to this file")
	)
	flag.Parse()
	if *preps == 0 {
		*preps = *reps
	}
	if err := run(*corpus, *n, *nq, *seed, *reps, *preps, *python, *peer, *dir, *cpuprof, *qprof); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(corpus string, n, nq int, seed uint64, reps, peerReps int, python, peer, dir, cpuprof, qprof string) error {
	if dir == "" {
		dir = os.TempDir()
	}
	start := time.Now()
	var docs []fulltext.Doc
	var err error
	switch corpus {
	case "fortunes":
		docs, err = fortunes()
	case "fleet":
		docs = fleet(seed, n)
	default:
		err = fmt.Errorf("unknown corpus %q", corpus)
	}
	if err != nil {
		return err
	}
	var textBytes int64
	for _, d := range docs {
		textBytes += int64(len(d.Content))
		for _, t := range d.Tags {
			textBytes += int64(len(t)) + 1
		}
	}
	queries := drawQueries(docs, nq, seed)
	logf("%s: %d documents, %.1f MB of text, %d queries (%v)", corpus, len(docs), float64(textBytes)/1e6, len(queries), time.Since(start).Round(time.Millisecond))

	data := filepath.Join(dir, fmt.Sprintf("akosha-ftbench-%s-%d.bin", corpus, len(docs)))
	if err := writeData(data, docs, queries); err != nil {
		return err
	}
	defer os.Remove(data)

	// From here on, one core: the build and the queries are single-threaded
	// on both sides, and a second P would give our garbage collector a core
	// FTS5 does not get.
	runtime.GOMAXPROCS(1)
	runtime.GC()

	var theirs *peerReport
	if peer != "" {
		logf("FTS5 peer: %s %s", python, peer)
		t := time.Now()
		theirs, err = runPeer(python, peer, data, peerReps, dir)
		if err != nil {
			logf("peer unavailable: %v", err)
			theirs = nil
		} else {
			theirs.runSeconds = time.Since(t).Seconds()
		}
	}
	logf("lake/fulltext: build")
	o, err := runOurs(docs, queries, reps, dir, cpuprof, qprof)
	if err != nil {
		return err
	}
	printTable(os.Stdout, corpus, len(docs), textBytes, queries, o, theirs)
	return nil
}

// fortunes reads every collection of Debian's fortunes package.
func fortunes() ([]fulltext.Doc, error) {
	const root = "/usr/share/games/fortunes"
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("%w (install Debian's fortunes package)", err)
	}
	var docs []fulltext.Doc
	for _, e := range ents {
		// Each collection NAME has NAME.dat (an index) and NAME.u8 (a link).
		if !e.Type().IsRegular() || filepath.Ext(e.Name()) != "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, e.Name()))
		if err != nil {
			return nil, err
		}
		var cur strings.Builder
		flush := func() {
			if s := strings.TrimSpace(cur.String()); s != "" {
				docs = append(docs, fulltext.Doc{Content: s, Tags: []string{e.Name()}})
			}
			cur.Reset()
		}
		for line := range strings.Lines(string(b)) {
			if strings.TrimRight(line, "\r\n") == "%" {
				flush()
				continue
			}
			cur.WriteString(line)
		}
		flush()
	}
	if len(docs) == 0 {
		return nil, errors.New("no fortunes found")
	}
	return docs, nil
}

// fleet makes n session memories on every core.
func fleet(seed uint64, n int) []fulltext.Doc {
	docs := make([]fulltext.Doc, n)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				docs[i] = fulltext.Doc{Content: gen.SessionText(seed, i), Tags: gen.SessionTags(seed, i)}
			}
		}()
	}
	wg.Wait()
	return docs
}

func drawQueries(docs []fulltext.Doc, nq int, seed uint64) [][]string {
	r := rand.New(rand.NewPCG(seed, 0xf75))
	out := make([][]string, 0, nq)
	for len(out) < nq {
		toks := fulltext.Tokens(docs[r.IntN(len(docs))].Content)
		if len(toks) == 0 {
			continue
		}
		q := make([]string, 1+len(out)%3)
		for i := range q {
			q[i] = toks[r.IntN(len(toks))]
		}
		out = append(out, q)
	}
	return out
}

// writeData writes the file fts5_peer.py reads (its docstring has the
// layout).
func writeData(path string, docs []fulltext.Doc, queries [][]string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	le := binary.LittleEndian
	var b [4]byte
	str := func(s string) {
		le.PutUint32(b[:], uint32(len(s)))
		w.Write(b[:])
		w.WriteString(s)
	}
	w.WriteString("AKFTBEN1")
	le.PutUint32(b[:], uint32(len(docs)))
	w.Write(b[:])
	le.PutUint32(b[:], uint32(len(queries)))
	w.Write(b[:])
	for _, d := range docs {
		str(d.Content)
		str(strings.Join(d.Tags, " "))
	}
	for _, q := range queries {
		le.PutUint32(b[:], uint32(len(q)))
		w.Write(b[:])
		for _, t := range q {
			str(t)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func runPeer(python, script, data string, reps int, dir string) (*peerReport, error) {
	cmd := exec.Command(python, script, "--data", data, "--reps", strconv.Itoa(reps), "--k", strconv.Itoa(k), "--dir", dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", script, err)
	}
	var r peerReport
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("peer output: %w", err)
	}
	return &r, nil
}

func runOurs(docs []fulltext.Doc, queries [][]string, reps int, dir, cpuprof, qprof string) (*ours, error) {
	stop, err := profile(cpuprof)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, fmt.Sprintf("akosha-ftbench-%d.fts", len(docs)))
	defer os.Remove(path)
	t0, c0 := time.Now(), cputime.Self()
	b := fulltext.NewBuilder()
	for i, d := range docs {
		if err := b.Add(uint32(i), d); err != nil {
			return nil, err
		}
	}
	tAdd, cAdd := time.Since(t0), cputime.Self()-c0
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if _, err := b.WriteTo(f); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	o := &ours{build: time.Since(t0).Seconds(), buildCPU: (cputime.Self() - c0).Seconds()}
	stop()
	logf("lake/fulltext: adding documents %.2f s (%.2f CPU-s), writing the segment %.2f s (%.2f CPU-s)",
		tAdd.Seconds(), cAdd.Seconds(), o.build-tAdd.Seconds(), o.buildCPU-cAdd.Seconds())
	b = nil
	runtime.GC()
	debug.FreeOSMemory()

	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	o.bytes = int64(len(data))
	seg, err := fulltext.Open(data)
	if err != nil {
		return nil, err
	}
	o.terms = seg.Terms()
	logf("lake/fulltext: built in %.1f s, %.1f MB, %d terms; queries", o.build, float64(o.bytes)/1e6, o.terms)

	stop, err = profile(qprof)
	if err != nil {
		return nil, err
	}
	defer stop()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	o.qps = map[fulltext.Match]float64{}
	o.hits = map[fulltext.Match][][]fulltext.Hit{}
	for _, m := range []fulltext.Match{fulltext.MatchAll, fulltext.MatchAny} {
		qs := make([]fulltext.Query, len(queries))
		for i, q := range queries {
			qs[i] = fulltext.Query{Terms: q, Match: m}
		}
		hits := make([][]fulltext.Hit, len(qs))
		best := math.Inf(1)
		for range max(reps, 1) {
			t := time.Now()
			for i, q := range qs {
				if hits[i], err = seg.Search(q, fulltext.Options{K: k}); err != nil {
					return nil, err
				}
			}
			best = min(best, time.Since(t).Seconds())
		}
		o.qps[m] = float64(len(qs)) / best
		o.hits[m] = hits
	}
	return o, nil
}

func profile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// agreement compares our top k with FTS5's for one mode, averaged over the
// queries: plain overlap (|ours ∩ theirs| / |theirs|), overlap counting a
// document of ours as agreeing when it ties FTS5's last kept score (the
// cut falls inside a run of equal scores, and which of them make the list
// is arbitrary on both sides), and the largest relative score difference
// over documents both lists hold.
type agreement struct {
	overlap, tieOverlap, maxScoreDiff float64
	queries, emptyBoth, lenDiffer     int
}

func compare(ourHits [][]fulltext.Hit, theirs [][]hitJSON) agreement {
	var a agreement
	for i := range theirs {
		t := theirs[i]
		o := ourHits[i]
		if len(t) != len(o) {
			a.lenDiffer++
		}
		if len(t) == 0 {
			if len(o) == 0 {
				a.emptyBoth++
				a.overlap++
				a.tieOverlap++
			}
			a.queries++
			continue
		}
		score := map[uint32]float64{}
		for _, h := range t {
			score[uint32(h[0])] = h[1]
		}
		last := t[len(t)-1][1]
		plain, tied := 0, 0
		for _, h := range o {
			if s, ok := score[h.Doc]; ok {
				plain++
				tied++
				a.maxScoreDiff = max(a.maxScoreDiff, math.Abs(h.Score-s)/math.Abs(s))
			} else if math.Abs(h.Score-last) <= 1e-9*math.Abs(last) {
				tied++
			}
		}
		a.overlap += float64(min(plain, len(t))) / float64(len(t))
		a.tieOverlap += float64(min(tied, len(t))) / float64(len(t))
		a.queries++
	}
	a.overlap /= float64(a.queries)
	a.tieOverlap /= float64(a.queries)
	return a
}

func printTable(w *os.File, corpus string, n int, textBytes int64, queries [][]string, o *ours, theirs *peerReport) {
	var terms [4]int
	for _, q := range queries {
		terms[len(q)]++
	}
	fmt.Fprintf(w, "\n%s: %d documents, %.1f MB of text (content and tags); %d queries of 1/2/3 terms: %d/%d/%d, drawn from random documents; top %d; one core (GOMAXPROCS 1, FTS5 single-threaded), queries timed as the fastest of the passes.\n\n",
		corpus, n, float64(textBytes)/1e6, len(queries), terms[1], terms[2], terms[3], k)
	modes := []fulltext.Match{fulltext.MatchAll, fulltext.MatchAny}
	name := map[fulltext.Match]string{fulltext.MatchAll: "all", fulltext.MatchAny: "any"}
	if theirs == nil {
		fmt.Fprintf(w, "| | lake/fulltext |\n|---|---|\n| build | %.2f s (%.2f CPU-s) |\n| index size | %.1f MB |\n",
			o.build, o.buildCPU, float64(o.bytes)/1e6)
		for _, m := range modes {
			fmt.Fprintf(w, "| queries/s, match %s | %s |\n", name[m], rate(o.qps[m]))
		}
		return
	}
	fmt.Fprintf(w, "| | lake/fulltext | SQLite %s FTS5 | ours / FTS5 |\n|---|---|---|---|\n", theirs.Version)
	fmt.Fprintf(w, "| build (wall) | %.2f s | %.2f s (inserts %.2f s + optimize) | %.2fx the time |\n",
		o.build, theirs.Build, theirs.Insert, o.build/theirs.Build)
	fmt.Fprintf(w, "| build (CPU) | %.2f s | %.2f s | %.2fx |\n", o.buildCPU, theirs.BuildCPU, o.buildCPU/theirs.BuildCPU)
	fmt.Fprintf(w, "| index size | %.1f MB | %.1f MB (with positions) | %.2fx |\n",
		float64(o.bytes)/1e6, float64(theirs.Bytes)/1e6, float64(o.bytes)/float64(theirs.Bytes))
	for _, m := range modes {
		t := theirs.Modes[name[m]]
		fmt.Fprintf(w, "| queries/s, match %s (%s) | %s | %s | %.2fx |\n", name[m],
			map[string]string{"all": "FTS5 `a b`", "any": "FTS5 `a OR b`"}[name[m]], rate(o.qps[m]), rate(t.QPS), o.qps[m]/t.QPS)
	}
	fmt.Fprintf(w, "\n| match | top-%d overlap with bm25() | counting ties at the cut | largest score difference | queries whose hit counts differ |\n|---|---|---|---|---|\n", k)
	for _, m := range modes {
		a := compare(o.hits[m], theirs.Modes[name[m]].Hits)
		fmt.Fprintf(w, "| %s | %.4f | %.4f | %.1e | %d of %d |\n", name[m], a.overlap, a.tieOverlap, a.maxScoreDiff, a.lenDiffer, a.queries)
	}
	fmt.Fprintf(w, "\n%d distinct terms in our segment; FTS5 peer run %.0f s in all (reading the data file included).\n", o.terms, theirs.runSeconds)
	// Queries that disagree, for the notes (first few).
	shown := 0
	for _, m := range modes {
		t := theirs.Modes[name[m]].Hits
		for i := range t {
			if shown >= 5 {
				break
			}
			if a := compare(o.hits[m][i:i+1], t[i:i+1]); a.tieOverlap < 1 {
				shown++
				fmt.Fprintf(os.Stderr, "disagreement, %s %q: ours %v, FTS5 %v\n", name[m], queries[i], brief(o.hits[m][i]), t[i])
			}
		}
	}
}

// rate prints a queries/s figure with three significant digits at least.
func rate(qps float64) string {
	if qps >= 100 {
		return fmt.Sprintf("%.0f", qps)
	}
	return strconv.FormatFloat(qps, 'g', 3, 64)
}

func brief(h []fulltext.Hit) string {
	var b bytes.Buffer
	for _, x := range h {
		fmt.Fprintf(&b, "[%d %.6g] ", x.Doc, x.Score)
	}
	return b.String()
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}
