package query_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/fulltext"
	"github.com/akosha/akosha/schemas"
	"github.com/akosha/akosha/testdata/textvec"
)

// BenchmarkFleetHybrid measures issue 23's figure: hybrid search's p99
// against vector-only p99, warm, through the query function (result cache
// off), on BenchmarkFleet's lake (AKOSHA_BENCH_FLEET records over 30 days
// as AKOSHA_BENCH_FLEET_SYSTEMS systems, default 1000), after compaction
// and the index job, so that search reads graph and full-text segments.
//
// The same queries run in mode vector (the vector only), hybrid (the
// vector and a text) and text (the text only), alternating the modes query
// by query, so the other load on the machine falls on all three alike.
// The vectors are textvec's held-out rows (as BenchmarkFleet's); the texts
// are 1, 2 or 3 terms (a third each) drawn from the tokens of a random
// record's content, so they match. It reports p50/p99 per mode, the
// hybrid/vector ratios, and the search stats (segments used). Only the
// live ingest shape is written (BenchmarkFleet times both shapes).
//
// gen.Fleet's contents are drawn from 48 words, so every query term is in
// nearly every record: the full-text ranking's worst case. With
// AKOSHA_BENCH_HYBRID_TEXT=session the contents and tags are
// gen.SessionText's and gen.SessionTags' instead (Zipf-weighted over a
// large vocabulary, the corpus of lake/fulltext/bench's fleet runs).
//
// With AKOSHA_BENCH_FLEET_PROFILE=<path>, CPU profiles of one pass of each
// mode alone go to <path>.hybrid, <path>.vector and <path>.text.
func BenchmarkFleetHybrid(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv("AKOSHA_BENCH_FLEET"))
	if n <= 0 {
		b.Skip("set AKOSHA_BENCH_FLEET=<records> (e.g. 100000) to measure hybrid against vector search (issue 23)")
	}
	shapes := fleetShapes(b, 1000)
	const days, nq, rounds = 30, 200, 2
	ctx := context.Background()
	t0 := time.Now()
	vecs, err := textvec.Vectors(n+nq, 22)
	if err != nil {
		b.Fatalf("textvec vectors: %v", err)
	}
	b.Logf("%d textvec vectors in %v", n+nq, time.Since(t0).Round(time.Millisecond))
	vec := func(i int) []float32 { return vecs[i*textvec.Dim : (i+1)*textvec.Dim] }
	end := time.Now().UTC()

	var report strings.Builder
	fmt.Fprintf(&report, "\nfleet hybrid: %d records over %d days, systems %v; load average at start %s\n", n, days, shapes, loadAvg())
	for _, systems := range shapes {
		fl := &fleetLake{systems: systems, gen: gen.Fleet{Systems: systems, Days: days, Records: n, Seed: 22, End: end, Vector: vec}}
		texts := fleetIngestLive(b, fl, nq)
		fl.compactAndIndex(b)
		fl.cacheDir = b.TempDir()
		fl.f = openFleetFunction(b, fl.store, fl.cacheDir)

		modes := []string{"vector", "hybrid", "text"}
		req := func(mode string, q int) query.SearchRequest {
			r := query.SearchRequest{Mode: mode, K: ptr(10), Cache: ptr(false)}
			if mode != "text" {
				r.Vector = f64(vec(n + q%nq))
			}
			if mode != "vector" {
				r.Text = texts[q%nq]
			}
			return r
		}
		type modeStats struct {
			times                                    []time.Duration
			indexSearches, indexExact, fileScans     int
			textSegments, textFiles, results, search int
		}
		stats := make([]modeStats, len(modes))
		run := func(m, q int) time.Duration {
			t := time.Now()
			res, err := fl.f.Search(ctx, req(modes[m], q))
			d := time.Since(t)
			if err != nil {
				b.Fatalf("search %s (%d systems): %v", modes[m], systems, err)
			}
			s := &stats[m]
			is, ie, fs, _, _ := query.SearchStatsOf(res)
			ts, tf := query.TextStatsOf(res)
			s.indexSearches += is
			s.indexExact += ie
			s.fileScans += fs
			s.textSegments += ts
			s.textFiles += tf
			s.results += len(res.Results)
			s.search++
			return d
		}
		// Warm: every query once in every mode (fetches the segments and
		// data files into the caches); then the timed rounds, the modes
		// rotating query by query.
		for q := range nq {
			for m := range modes {
				run(m, q)
			}
		}
		stats = make([]modeStats, len(modes))
		loadBefore := loadAvg()
		for q := range rounds * nq {
			for j := range modes {
				m := (q + j) % len(modes)
				stats[m].times = append(stats[m].times, run(m, q))
			}
		}
		loadAfter := loadAvg()
		for m, mode := range modes {
			stop := fleetProfile(b, mode)
			for q := range nq {
				run(m, q)
			}
			stop()
		}

		fmt.Fprintf(&report, "\n%d systems: %d timed searches per mode (%d queries x %d rounds), load average %s before, %s after the timed rounds\n",
			systems, rounds*nq, nq, rounds, loadBefore, loadAfter)
		fmt.Fprintf(&report, "\n| mode | p50 | p90 | p99 | max | mean | graph segments searched / search | segments scanned exactly / search | files scanned / search | full-text segments / search | files text-scored / search | results / search |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for m, mode := range modes {
			s := stats[m]
			per := func(v int) float64 { return float64(v) / float64(s.search) }
			fmt.Fprintf(&report, "| %s | %s | %s | %s | %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", mode,
				ms(pct(s.times, 50)), ms(pct(s.times, 90)), ms(pct(s.times, 99)), ms(slices.Max(s.times)), ms(mean(s.times)),
				per(s.indexSearches), per(s.indexExact), per(s.fileScans), per(s.textSegments), per(s.textFiles), per(s.results))
		}
		v, h := stats[0].times, stats[1].times
		fmt.Fprintf(&report, "\nhybrid / vector: p50 %.2fx, p99 %.2fx (goal: p99 at most 1.5x)\n",
			float64(pct(h, 50))/float64(pct(v, 50)), float64(pct(h, 99))/float64(pct(v, 99)))
		fl.f.Stop(ctx)
		purgeStore(b, fl.store)
	}
	fmt.Fprintf(&report, "\nload average at end %s\n", loadAvg())
	b.Log(report.String())
}

// fleetIngestLive writes fl's records day by day (the live shape) in
// group-commit-sized appends into a new store, and returns nq query texts
// drawn from the records' contents.
func fleetIngestLive(b *testing.B, fl *fleetLake, nq int) []string {
	ctx := context.Background()
	recs := fl.gen.Memories()
	if os.Getenv("AKOSHA_BENCH_HYBRID_TEXT") == "session" {
		// gen.Fleet's contents draw on 48 words, so every query term is in
		// nearly every record (BM25's worst case); gen.SessionText's are
		// Zipf-weighted over a large vocabulary, as lake/fulltext/bench's.
		for i := range recs {
			recs[i].Content, recs[i].Tags = gen.SessionText(22, i), gen.SessionTags(22, i)
		}
	}
	r := rand.New(rand.NewPCG(23, 23))
	texts := make([]string, nq)
	for q := range texts {
		toks := fulltext.Tokens(recs[r.IntN(len(recs))].Content)
		terms := make([]string, 1+q%3)
		for i := range terms {
			terms[i] = toks[r.IntN(len(toks))]
		}
		texts[q] = strings.Join(terms, " ")
	}
	slices.SortStableFunc(recs, func(a, c schemas.Memory) int { return a.CreatedAt.Compare(c.CreatedAt) })
	fl.store = testenv.S3(b)
	var err error
	if fl.l, err = lake.Open(ctx, fl.store); err != nil {
		b.Fatalf("open lake: %v", err)
	}
	t0 := time.Now()
	for off := 0; off < len(recs); off += groupCommit {
		batch := recs[off:min(off+groupCommit, len(recs))]
		if _, err := fl.l.AppendMemories(ctx, batch); err != nil {
			b.Fatalf("append (%d systems): %v", fl.systems, err)
		}
	}
	fl.live = ingestCount{records: len(recs), wall: time.Since(t0)}
	fl.filesBefore = liveFiles(b, fl.l).total
	b.Logf("%d systems: ingest %d records in %v", fl.systems, len(recs), fl.live.wall.Round(time.Millisecond))
	return texts
}

func mean(d []time.Duration) time.Duration {
	var s time.Duration
	for _, v := range d {
		s += v
	}
	return s / time.Duration(max(len(d), 1))
}
