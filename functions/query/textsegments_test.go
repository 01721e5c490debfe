package query_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/jobs/indexer"
	"github.com/akosha/akosha/lake/vecindex"
	"github.com/akosha/akosha/schemas"
)

// Full-text segments (issue 23): the index job builds, with each HNSW
// segment, the BM25 segment of the same documents; text search goes
// through it for the covered files and scores the others exactly, with the
// statistics of exactly the records it admits. So the ranking is the
// brute-force one (m.bm25) whether or not an index is built, under every
// filter, and stays so after re-sends and deletes that come after the
// index: an older version or a deleted record in a segment is never a hit
// and weighs on no score. Every 7th record has no embedding (no node: its
// row is scored exactly beside the segment), and some records have two
// versions inside one segment.
func TestTextSearchSegments(t *testing.T) {
	ctx := ctxT(t)
	store := testenv.S3(t)
	p := startProcess(t, store, query.Config{})
	rng := rand.New(rand.NewPCG(29, 1))
	day0 := time.Now().UTC().Truncate(24 * time.Hour).Add(-72 * time.Hour)
	m := &model{latest: map[string]schemas.Memory{}}
	appendRecs := func(recs []schemas.Memory) {
		t.Helper()
		if _, err := p.lake.AppendMemories(ctx, recs); err != nil {
			t.Fatal(err)
		}
		m.put(recs)
	}
	resend := func(recs []schemas.Memory, from int) []schemas.Memory {
		var out []schemas.Memory
		for i, r := range recs {
			n := textRecords(rng, 1, from+i, day0)[0]
			r.Content, r.Tags = "resent "+n.Content, n.Tags
			if i%2 == 0 {
				r.CreatedAt = n.CreatedAt // another day: another partition
			}
			out = append(out, r)
		}
		return out
	}
	recs := textRecords(rng, 240, 0, day0)
	appendRecs(recs[:110])
	appendRecs(recs[110:220])
	appendRecs(resend(recs[:20], 0))
	appendRecs(recs[220:]) // a small file, for the deletes below

	from, to := day0.Add(24*time.Hour), day0.Add(48*time.Hour-time.Microsecond)
	cases := []struct {
		name   string
		filter *query.SearchFilter
		keep   func(schemas.Memory) bool
	}{
		{"all", nil, nil},
		{"system", &query.SearchFilter{SystemID: query.StringList{"s1", "s2"}}, func(r schemas.Memory) bool { return r.SystemID != "s0" }},
		{"day 1", &query.SearchFilter{From: schemas.FormatTime(from), To: schemas.FormatTime(to)},
			func(r schemas.Memory) bool { return !r.CreatedAt.Before(from) && !r.CreatedAt.After(to) }},
		{"tags any", &query.SearchFilter{Tags: query.TagList{"bug", "perf"}},
			func(r schemas.Memory) bool { return slices.Contains(r.Tags, "bug") || slices.Contains(r.Tags, "perf") }},
		{"tags all", &query.SearchFilter{Tags: query.TagList{"go", "lake"}, TagsAll: true},
			func(r schemas.Memory) bool { return slices.Contains(r.Tags, "go") && slices.Contains(r.Tags, "lake") }},
		{"session", &query.SearchFilter{SessionID: "sa", SystemID: query.StringList{"s0"}},
			func(r schemas.Memory) bool { return r.SessionID == "sa" && r.SystemID == "s0" }},
	}
	queries := []string{"retry lake", "Vacuum compaction TIER", "resent flaky jitter backoff"}
	// check compares every case with the brute force and returns the
	// unfiltered answers; segments is how many full-text segments the
	// unfiltered searches must go through, and whole how many of those
	// the unfiltered searches admit whole (scored with their stored
	// statistics, which must then rank as the brute force does; -1: not
	// checked).
	check := func(what string, segments, whole int) map[string][]query.SearchResult {
		t.Helper()
		waitKeys(t, p)
		if err := p.query.RefreshIndexes(ctx); err != nil {
			t.Fatal(err)
		}
		out := map[string][]query.SearchResult{}
		for ci, c := range cases {
			for qi, q := range queries {
				if ci > 0 && qi > 0 {
					continue
				}
				for _, k := range []int{40} { // k 5 is TestTextAndHybridSearch's
					name := fmt.Sprintf("%s: %s q%d k%d", what, c.name, qi, k)
					res, err := p.query.Search(ctx, query.SearchRequest{Mode: "text", Text: q, K: ptr(k), Filter: c.filter})
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					compareText(t, name, res.Results, m.bm25(q, k, c.keep), m)
					// A filter hides some of every segment's records: the
					// stored statistics are never the admitted ones then.
					if stored := query.TextStoredOf(res); c.filter != nil && stored != 0 || c.filter == nil && whole >= 0 && stored != whole {
						t.Fatalf("%s: %d full-text segments scored with their stored statistics, want %d", name, stored, whole)
					}
					if c.filter == nil {
						if segs, _ := query.TextStatsOf(res); segs != segments {
							t.Fatalf("%s: %d full-text segments searched, want %d", name, segs, segments)
						}
						out[fmt.Sprintf("q%d k%d", qi, k)] = res.Results
					}
				}
			}
		}
		return out
	}
	exact := check("not indexed", 0, 0)

	sum, err := indexer.Run(ctx, p.lake, indexer.Options{MinVectors: 50, EfConstruction: 16})
	if err != nil || sum.Built != 1 {
		t.Fatalf("index: %+v %v", sum, err)
	}
	// The manifest names the full-text segment, which is there.
	objs, err := vecindex.ListManifests(ctx, store, schemas.TableMemories)
	if err != nil || len(objs) != 1 {
		t.Fatalf("manifests %v %v", objs, err)
	}
	man, err := vecindex.ReadManifest(ctx, store, objs[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(man.Text.Key, ".fts") || man.Text.Size == 0 {
		t.Fatalf("manifest text %+v", man.Text)
	}
	if info, err := store.Head(ctx, man.Text.Key); err != nil || info.Size != man.Text.Size {
		t.Fatalf("full-text segment %s: %+v %v", man.Text.Key, info, err)
	}
	// Index built vs not built: the same answers, scores within rounding.
	indexed := check("indexed", 1, 1)
	for key, want := range exact {
		got := indexed[key]
		if len(got) != len(want) {
			t.Fatalf("%s: %d hits indexed, %d not", key, len(got), len(want))
		}
		for i := range got {
			if !nearScore(*got[i].BM25, *want[i].BM25) {
				t.Fatalf("%s: hit %d scores %v indexed, %v not", key, i, *got[i].BM25, *want[i].BM25)
			}
		}
	}

	// Hybrid's text half is the same ranking, through the segment too.
	q := queries[0]
	res, err := p.query.Search(ctx, query.SearchRequest{Mode: "hybrid", Text: q, Vector: f64(recs[1].Embedding), K: ptr(10)})
	if err != nil {
		t.Fatal(err)
	}
	if segs, _ := query.TextStatsOf(res); segs != 1 {
		t.Fatalf("hybrid: %d full-text segments searched", segs)
	}
	bm := map[string]float64{}
	for _, h := range m.bm25(q, 50, nil) {
		bm[h.key] = h.score
	}
	texts := 0
	for _, r := range res.Results {
		if r.BM25 == nil {
			continue
		}
		texts++
		if want, ok := bm[r.SystemID+"/"+r.ID]; !ok || !nearScore(*r.BM25, want) {
			t.Fatalf("hybrid: %s/%s bm25 %v, want %v (%v)", r.SystemID, r.ID, *r.BM25, want, ok)
		}
	}
	if texts == 0 {
		t.Fatal("hybrid: no hit from the text ranking")
	}

	// After the index: re-sent records (the old versions are in the
	// segment) and deleted ones (their file rewritten: the segment's docs
	// of the old file are dead; a small file, so that the segment stays
	// usable), before the index job runs again. One of them has no
	// embedding.
	appendRecs(resend(recs[100:130], 100))
	for _, r := range []schemas.Memory{recs[223], recs[224]} { // 224 has no embedding
		if st, _, body := do(t, "DELETE", p.url+"/v1/memories/"+r.SystemID+"/"+r.ID, nil, nil); st != 200 {
			t.Fatalf("delete %s/%s: %d %s", r.SystemID, r.ID, st, body)
		}
		delete(m.latest, r.SystemID+"/"+r.ID)
	}
	check("re-sent and deleted after the index", 1, 0)

	// And once the index job has caught up.
	if _, err := indexer.Run(ctx, p.lake, indexer.Options{MinVectors: 10, EfConstruction: 16}); err != nil {
		t.Fatal(err)
	}
	all, err := store.List(ctx, vecindex.Prefix(schemas.TableMemories))
	if err != nil {
		t.Fatal(err)
	}
	var ms []*vecindex.Manifest
	fts := 0
	for _, o := range all {
		switch {
		case strings.HasSuffix(o.Key, ".fts"):
			fts++
		case strings.HasSuffix(o.Key, ".json"):
			mf, err := vecindex.ReadManifest(ctx, store, o.Key)
			if err != nil || mf.Text.Key == "" {
				t.Fatalf("manifest %s: %+v %v", o.Key, mf, err)
			}
			ms = append(ms, mf)
		}
	}
	if fts != len(ms) || fts < 2 {
		t.Fatalf("%d full-text segments for %d manifests", fts, len(ms))
	}
	tbl, _ := p.lake.Table(schemas.TableMemories)
	snap, err := tbl.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	live := map[string]int64{}
	for a := range snap.AllFiles() {
		live[a.Path] = a.Size
	}
	check("indexed again", len(vecindex.Segments(ms, live)), -1)
}
