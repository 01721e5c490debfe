package query_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/jobs/age"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/fulltext"
	"github.com/akosha/akosha/lake/fusion"
	"github.com/akosha/akosha/schemas"
)

type textHit struct {
	key   string
	score float64
}

// bm25 is the test's brute-force BM25 (FTS5's formula, k1 1.2, b 0.75) of
// query over the latest records that keep admits, content and tags as one
// bag of terms, any term matching; best first, ties by key.
func (m *model) bm25(query string, k int, keep func(schemas.Memory) bool) []textHit {
	type doc struct {
		key string
		tf  map[string]int
		n   int
	}
	var docs []doc
	tokens := 0
	for key, r := range m.latest {
		if keep != nil && !keep(r) {
			continue
		}
		d := doc{key: key, tf: map[string]int{}}
		for _, t := range fulltext.Tokens(r.Content + " " + strings.Join(r.Tags, " ")) {
			d.tf[t]++
			d.n++
		}
		tokens += d.n
		docs = append(docs, d)
	}
	q := fulltext.Tokens(query)
	n := float64(len(docs))
	avgdl := float64(tokens) / n
	idf := map[string]float64{}
	for _, t := range q {
		df := 0
		for _, d := range docs {
			if d.tf[t] > 0 {
				df++
			}
		}
		v := math.Log((n - float64(df) + 0.5) / (float64(df) + 0.5))
		if !(v > 0) {
			v = 1e-6
		}
		idf[t] = v
	}
	var hits []textHit
	for _, d := range docs {
		s, any := 0.0, false
		for _, t := range q {
			tf := float64(d.tf[t])
			if tf == 0 {
				continue
			}
			any = true
			s += idf[t] * (tf * 2.2) / (tf + 1.2*(1-0.75+0.75*float64(d.n)/avgdl))
		}
		if any {
			hits = append(hits, textHit{d.key, s})
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].score != hits[j].score {
			return hits[i].score > hits[j].score
		}
		return hits[i].key < hits[j].key
	})
	return hits[:min(k, len(hits))]
}

// near: equal scores up to rounding (sums taken in another order).
func nearScore(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// compareText checks a text ranking against the brute force one: the same
// records in the same places, with their scores, except that records whose
// scores tie (up to rounding) may come in either order.
func compareText(t *testing.T, what string, got []query.SearchResult, want []textHit, m *model) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d results, want %d (%v)", what, len(got), len(want), want)
	}
	for i, r := range got {
		key := r.SystemID + "/" + r.ID
		if r.BM25 == nil || r.Rank != i+1 || float64(r.Score) != float64(float32(*r.BM25)) || r.VectorScore != nil {
			t.Fatalf("%s: hit %d: bm25 %v rank %d score %v vector %v", what, i, r.BM25, r.Rank, r.Score, r.VectorScore)
		}
		if !nearScore(*r.BM25, want[i].score) {
			t.Fatalf("%s: hit %d %s scores %v, want %s at %v", what, i, key, *r.BM25, want[i].key, want[i].score)
		}
		if key != want[i].key && !slices.ContainsFunc(want, func(h textHit) bool { return h.key == key && nearScore(h.score, *r.BM25) }) {
			t.Fatalf("%s: hit %d is %s, want %s", what, i, key, want[i].key)
		}
		rec := m.latest[key]
		if r.Content != rec.Content || r.Kind != rec.Kind || r.Project != rec.Project || r.Tier != m.tier(key) ||
			r.CreatedAt != schemas.FormatTime(rec.CreatedAt) {
			t.Fatalf("%s: %s is %+v, want %+v in %s", what, key, r, rec, m.tier(key))
		}
	}
}

var words = strings.Fields(`retry lake delta parquet commit index vector search tier warm hot cold
	compaction vacuum system memory session token budget latency queue writer reader schema
	flaky test fix jitter backoff graph`)

// textRecords makes n records of a few words each (a skewed draw, so
// frequencies differ), with tags and sessions, on days 0..2 of three
// systems; every 7th has no embedding.
func textRecords(rng *rand.Rand, n, from int, day0 time.Time) []schemas.Memory {
	kinds := []string{schemas.KindConversation, schemas.KindReflection, schemas.KindMemory}
	tags := []string{"go", "lake", "bug", "perf"}
	var out []schemas.Memory
	for i := from; i < from+n; i++ {
		var ws []string
		for range 3 + rng.IntN(10) {
			ws = append(ws, words[int(float64(len(words))*math.Pow(rng.Float64(), 2))])
		}
		r := schemas.Memory{
			SystemID: fmt.Sprintf("s%d", i%3), ID: fmt.Sprintf("t%04d", i), Kind: kinds[rng.IntN(3)],
			Content:   strings.Join(ws, " "),
			CreatedAt: day0.Add(time.Duration(rng.IntN(3))*24*time.Hour + time.Duration(i)*time.Second).Truncate(time.Microsecond),
			SessionID: []string{"sa", "sb", ""}[rng.IntN(3)],
		}
		for _, tg := range tags {
			if rng.IntN(4) == 0 {
				r.Tags = append(r.Tags, tg)
			}
		}
		if i%7 != 0 {
			r.Embedding = make([]float32, schemas.EmbeddingDim)
			for j := range r.Embedding {
				r.Embedding[j] = float32(rng.NormFloat64())
			}
		}
		out = append(out, r)
	}
	return out
}

// Text search with no embeddings endpoint: BM25 over the live records
// (latest version wins, row filters, tiers) equals the brute-force
// ranking; hybrid search fuses the exact vector and text rankings.
func TestTextAndHybridSearch(t *testing.T) {
	ctx := ctxT(t)
	store := testenv.S3(t)
	p := startProcess(t, store, query.Config{})
	rng := rand.New(rand.NewPCG(23, 1))
	day0 := time.Now().UTC().Truncate(24 * time.Hour).Add(-72 * time.Hour)
	m := &model{latest: map[string]schemas.Memory{}}
	recs := textRecords(rng, 600, 0, day0)
	for _, part := range [][]schemas.Memory{recs[:300], recs[300:]} {
		if _, err := p.lake.AppendMemories(ctx, part); err != nil {
			t.Fatal(err)
		}
		m.put(part)
	}
	// Re-sent records: new content (and for some a new day, so the old
	// version is in another partition), later ingested_at.
	var again []schemas.Memory
	for i, r := range recs[:80] {
		n := textRecords(rng, 1, i, day0)[0]
		r.Content, r.Tags = "resent "+n.Content, n.Tags
		if i%2 == 0 {
			r.CreatedAt = n.CreatedAt
		}
		again = append(again, r)
	}
	if _, err := p.lake.AppendMemories(ctx, again); err != nil {
		t.Fatal(err)
	}
	m.put(again)
	// Days 0 and 1 move to warm (int8 embeddings, same text columns).
	if _, err := age.Run(ctx, p.lake, age.Options{Tables: []string{schemas.TableMemories}, Now: day0.AddDate(0, 0, 9).Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	tbl, _ := p.lake.Table(schemas.TableMemories)
	m.tiers = map[string]string{}
	for f := range tbl.Cached().AllFiles() {
		if pt, _ := lake.PartitionOf(f.PartitionValues); pt.Tier != schemas.TierHot {
			m.tiers[pt.Day] = pt.Tier
		}
	}
	if len(m.tiers) == 0 {
		t.Fatal("nothing aged")
	}
	waitKeys(t, p)

	from, to := day0.Add(24*time.Hour), day0.Add(48*time.Hour-time.Microsecond)
	cases := []struct {
		name   string
		filter map[string]any
		keep   func(schemas.Memory) bool
	}{
		{"all", nil, nil},
		{"system", map[string]any{"system_id": []string{"s1", "s2"}}, func(r schemas.Memory) bool { return r.SystemID != "s0" }},
		{"kind", map[string]any{"kind": "reflection"}, func(r schemas.Memory) bool { return r.Kind == "reflection" }},
		{"tier warm", map[string]any{"tier": "warm"}, func(r schemas.Memory) bool { return m.tier(r.SystemID+"/"+r.ID) == "warm" }},
		{"tier hot", map[string]any{"tier": "hot"}, func(r schemas.Memory) bool { return m.tier(r.SystemID+"/"+r.ID) == "hot" }},
		{"day 1", map[string]any{"from": schemas.FormatTime(from), "to": schemas.FormatTime(to)},
			func(r schemas.Memory) bool { return !r.CreatedAt.Before(from) && !r.CreatedAt.After(to) }},
		{"tags any", map[string]any{"tags": []string{"bug", "perf"}},
			func(r schemas.Memory) bool { return slices.Contains(r.Tags, "bug") || slices.Contains(r.Tags, "perf") }},
		{"tags all", map[string]any{"tags": []string{"go", "lake"}, "tags_all": true},
			func(r schemas.Memory) bool { return slices.Contains(r.Tags, "go") && slices.Contains(r.Tags, "lake") }},
		{"session", map[string]any{"session_id": "sa", "system_id": "s0"},
			func(r schemas.Memory) bool { return r.SessionID == "sa" && r.SystemID == "s0" }},
	}
	queries := []string{"retry lake", "Vacuum compaction TIER", "resent flaky jitter backoff", "graph", "nothingmatches"}
	for ci, c := range cases {
		for qi, q := range queries {
			if ci > 0 && qi%2 == 1 {
				continue // every query unfiltered; some under each filter
			}
			for _, k := range []int{5, 40} {
				what := fmt.Sprintf("text %s q%d k%d", c.name, qi, k)
				body := map[string]any{"text": q, "k": k}
				if c.filter != nil {
					body["filter"] = c.filter
				}
				st, a, raw := searchHTTP(t, p, body)
				if st != 200 {
					t.Fatalf("%s: %d %s", what, st, raw)
				}
				compareText(t, what, a.Results, m.bm25(q, k, c.keep), m)
			}
		}
	}

	// Hybrid: the vector ranking and the text ranking, each 50 deep for k
	// 10, fused by weighted RRF.
	for ci, c := range cases {
		for qi, q := range queries[:2] {
			for _, w := range []float64{0.5, 0.8} {
				if (ci > 0 && w != 0.5) || (ci%2 == 1 && qi == 1) {
					continue
				}
				what := fmt.Sprintf("hybrid %s q%d w%v", c.name, qi, w)
				qv := textRecords(rand.New(rand.NewPCG(uint64(qi), 9)), 1, 1, day0)[0].Embedding
				body := map[string]any{"text": q, "vector": f64(qv), "k": 10}
				if w != 0.5 {
					body["hybrid_weight"] = w
				}
				if c.filter != nil {
					body["filter"] = c.filter
				}
				st, a, raw := searchHTTP(t, p, body)
				if st != 200 {
					t.Fatalf("%s: %d %s", what, st, raw)
				}
				// The vector side is the server's own mode vector answer
				// (checked against brute force below and in the vector
				// tests): int8 warm embeddings may reorder near ties.
				vbody := map[string]any{"vector": f64(qv), "k": 50}
				if c.filter != nil {
					vbody["filter"] = c.filter
				}
				st, va, raw := searchHTTP(t, p, vbody)
				if st != 200 {
					t.Fatalf("%s: vector: %d %s", what, st, raw)
				}
				var vec, txt []fusion.Scored[string]
				for _, r := range va.Results {
					vec = append(vec, fusion.Scored[string]{Key: r.SystemID + "/" + r.ID, Score: float64(r.Score)})
				}
				for _, h := range m.bm25(q, 50, c.keep) {
					txt = append(txt, fusion.Scored[string]{Key: h.key, Score: h.score})
				}
				want, err := fusion.Fuse(vec, txt, fusion.Options{Weight: w, Limit: 10})
				if err != nil {
					t.Fatal(err)
				}
				if len(a.Results) != len(want) {
					t.Fatalf("%s: %d results, want %d", what, len(a.Results), len(want))
				}
				for i, r := range a.Results {
					h := want[i]
					key := r.SystemID + "/" + r.ID
					if key != h.Key || r.Rank != h.Rank || math.Abs(float64(r.Score)-h.Score) > 1e-6 ||
						(r.BM25 != nil) != (h.TextRank > 0) || (r.VectorScore != nil) != (h.VectorRank > 0) {
						t.Fatalf("%s: hit %d is %s rank %d score %v bm25 %v vec %v, want %+v", what, i, key, r.Rank, r.Score, r.BM25, r.VectorScore, h)
					}
					if r.BM25 != nil && !nearScore(*r.BM25, h.TextScore) || r.VectorScore != nil && math.Abs(float64(*r.VectorScore)-h.VectorScore) > 1e-5 {
						t.Fatalf("%s: hit %d scores bm25 %v vec %v, want %+v", what, i, *r.BM25, r.VectorScore, h)
					}
					if r.Content != m.latest[key].Content {
						t.Fatalf("%s: %s content %q", what, key, r.Content)
					}
				}
			}
		}
	}

	// Mode vector with the new filters: exact answers, too.
	qv := textRecords(rand.New(rand.NewPCG(5, 9)), 1, 1, day0)[0].Embedding
	for _, c := range cases[6:] {
		st, a, raw := searchHTTP(t, p, map[string]any{"vector": f64(qv), "k": 10, "filter": c.filter})
		if st != 200 {
			t.Fatalf("vector %s: %d %s", c.name, st, raw)
		}
		for _, r := range a.Results {
			if r.Rank != 0 || r.BM25 != nil || r.VectorScore != nil {
				t.Fatalf("vector %s: hybrid fields in %+v", c.name, r)
			}
		}
		compare(t, "vector "+c.name, a.Results, m.truth(qv, 10, c.keep), m, 0.9)
	}
}
