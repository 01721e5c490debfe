package query_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/jobs/indexer"
	"github.com/akosha/akosha/jobs/vacuum"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/vecindex"
	"github.com/akosha/akosha/schemas"
	"github.com/akosha/akosha/testdata/textvec"
)

// A tier's index segments over their life (issue 22): the index job builds
// a segment over new files and leaves the older ones alone, merges small
// segments, keeps at most MaxSegments; searches visit each chosen segment
// once, scan what none covers, and find the latest version of a record
// re-sent into another segment, once; vacuum deletes the merged-away
// segments after the grace and nothing a search uses.
func TestSearchIndexSegments(t *testing.T) {
	ctx := ctxT(t)
	store := testenv.S3(t)
	p := startProcess(t, store, query.Config{})
	const nq = 4
	vecs, err := textvec.Vectors(1600+nq, 31)
	if err != nil {
		t.Fatal(err)
	}
	vec := func(i int) []float32 { return slices.Clone(vecs[i*textvec.Dim : (i+1)*textvec.Dim]) }
	query0 := 1600
	day0 := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2)
	next := 0
	mk := func(n int) []schemas.Memory {
		var out []schemas.Memory
		for range n {
			i := next
			next++
			out = append(out, schemas.Memory{
				SystemID: []string{"s0", "s1", "s2"}[i%3], ID: fmt.Sprintf("r%05d", i), Kind: schemas.KindMemory,
				Content:   fmt.Sprintf("record %d", i),
				CreatedAt: day0.AddDate(0, 0, i%2).Add(time.Duration(i) * time.Second).Truncate(time.Microsecond),
				Embedding: vec(i),
			})
		}
		return out
	}
	m := &model{latest: map[string]schemas.Memory{}}
	appendRecs := func(recs []schemas.Memory) {
		t.Helper()
		if _, err := p.lake.AppendMemories(ctx, recs); err != nil {
			t.Fatal(err)
		}
		m.put(recs)
	}
	// Size tiers of 100 vectors x 4: segments of 100-399 vectors share
	// tier 0, and four of them merge.
	opts := indexer.Options{MinVectors: 100, EfConstruction: 32}
	index := func(what string, o indexer.Options, want indexer.Summary) {
		t.Helper()
		sum, err := indexer.Run(ctx, p.lake, o)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		sum.Vectors, sum.Failures = 0, nil
		if fmt.Sprintf("%+v", sum) != fmt.Sprintf("%+v", want) {
			t.Fatalf("%s: %+v, want %+v", what, sum, want)
		}
		if again, err := indexer.Run(ctx, p.lake, o); err != nil || again.Built != 0 || again.Current != 1 {
			t.Fatalf("%s: second run: %+v %v", what, again, err)
		}
	}
	// chosen are the segments a search uses now, sorted; all every
	// manifest under _indexes/.
	segments := func() (chosen, all []string) {
		t.Helper()
		objs, err := vecindex.ListManifests(ctx, store, schemas.TableMemories)
		if err != nil {
			t.Fatal(err)
		}
		var ms []*vecindex.Manifest
		for _, o := range objs {
			mf, err := vecindex.ReadManifest(ctx, store, o.Key)
			if err != nil {
				t.Fatal(err)
			}
			ms = append(ms, mf)
			all = append(all, o.Key)
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
		for _, mf := range vecindex.Segments(ms, live) {
			chosen = append(chosen, mf.Key)
		}
		sort.Strings(chosen)
		sort.Strings(all)
		return chosen, all
	}
	// search checks nq queries against the exact answer and that the
	// chosen segments, and only they, were searched, each once.
	search := func(what string, scans int) {
		t.Helper()
		waitKeys(t, p)
		if err := p.query.RefreshIndexes(ctx); err != nil {
			t.Fatal(err)
		}
		chosen, _ := segments()
		r := recallMeter{what: what}
		defer r.check(t, 0.97)
		for i := range nq {
			q := vec(query0 + i)
			res, err := p.query.Search(ctx, query.SearchRequest{Vector: f64(q), K: ptr(10)})
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			r.compare(t, fmt.Sprintf("%s q%d", what, i), res.Results, m.truth(q, 10, nil), m)
			graph, exact, fileScans, _, keys := query.SearchStatsOf(res)
			sort.Strings(keys)
			if graph+exact != len(chosen) || !slices.Equal(keys, chosen) || fileScans != scans {
				t.Fatalf("%s q%d: searched %v (%d graphs, %d exact) and %d files; want the segments %v and %d files",
					what, i, keys, graph, exact, fileScans, chosen, scans)
			}
		}
	}

	// The first segment: 400 vectors (size tier 1).
	appendRecs(mk(400))
	index("first", opts, indexer.Summary{Partitions: 1, Built: 1})
	first, _ := segments()
	search("first", 0)

	// 150 new vectors: a second segment over the new file alone; the
	// first is untouched.
	appendRecs(mk(150))
	index("second", opts, indexer.Summary{Partitions: 1, Built: 1})
	two, _ := segments()
	if len(two) != 2 || !slices.Contains(two, first[0]) {
		t.Fatalf("second: segments %v, first %v", two, first)
	}
	search("second", 0)

	// A third and a fourth small segment, then a fifth batch: four
	// segments of size tier 0 (150, 130, 120 and the new 140) merge into
	// one. The first segment (tier 1) is left alone.
	appendRecs(mk(130))
	index("third", opts, indexer.Summary{Partitions: 1, Built: 1})
	appendRecs(mk(120))
	index("fourth", opts, indexer.Summary{Partitions: 1, Built: 1})
	appendRecs(mk(140))
	index("merge", opts, indexer.Summary{Partitions: 1, Built: 1, Rebuilt: 1, Merged: 1})
	merged, all := segments()
	if len(merged) != 2 || !slices.Contains(merged, first[0]) || len(all) != 5 {
		t.Fatalf("after the merge: chosen %v of %v", merged, all)
	}
	search("merged", 0)

	// The bound: at most MaxSegments (2 here) segments; the smallest merge.
	appendRecs(mk(150))
	bounded := opts
	bounded.MaxSegments = 2
	index("bound", bounded, indexer.Summary{Partitions: 1, Built: 1, Rebuilt: 1, Merged: 1})
	chosen, all := segments()
	if len(chosen) != 2 || len(all) != 6 {
		t.Fatalf("bounded: chosen %v of %v", chosen, all)
	}
	// New rows below MinVectors are scanned beside the segments.
	appendRecs(mk(50))
	index("few new rows", bounded, indexer.Summary{Partitions: 1, Current: 1})
	search("bounded", 2) // one file a day

	// Vacuum past the grace deletes the merged-away segments, and no
	// segment a search uses.
	if _, err := vacuum.Run(ctx, p.lake, vacuum.Options{Tables: []string{schemas.TableMemories}, Now: func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }}); err != nil {
		t.Fatal(err)
	}
	left, all := segments()
	if !slices.Equal(left, chosen) || !slices.Equal(all, chosen) {
		t.Fatalf("vacuum left %v (chosen %v), want %v", all, left, chosen)
	}
	// The merged-away segments' full-text objects went with them: what is
	// left is the chosen segments' objects, each with its .fts.
	objs, err := store.List(ctx, vecindex.Prefix(schemas.TableMemories))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	var want []string
	for _, k := range chosen {
		stem := strings.TrimSuffix(k, ".json")
		want = append(want, stem+".fts", stem+".hnsw", k, stem+".rows")
	}
	sort.Strings(keys)
	sort.Strings(want)
	if !slices.Equal(keys, want) {
		t.Fatalf("vacuum left the index objects %v, want %v", keys, want)
	}
	search("vacuumed", 2)

	// Records of the first batch re-sent into a new segment: 20 with a new
	// vector and content, 10 without a vector. The new segment holds
	// their latest versions (it covers the 50 rows left to scans too);
	// the segment over the first batch's files still holds the old ones as
	// nodes. Searches resolve them by latest wins: never the old version,
	// never twice.
	batch := mk(100)
	var moved, stripped []schemas.Memory
	for i := range 30 {
		r := m.latest[fmt.Sprintf("s%d/r%05d", (i*7)%3, i*7)]
		if i < 20 {
			r.Content, r.Embedding = fmt.Sprintf("re-sent %d", i), vec(1500+i)
			moved = append(moved, r)
		} else {
			r.Content, r.Embedding = "no vector now", nil
			stripped = append(stripped, r)
		}
		batch = append(batch, r)
	}
	appendRecs(batch)
	index("re-sent", opts, indexer.Summary{Partitions: 1, Built: 1})
	search("re-sent", 0)
	resent := func(what string) {
		t.Helper()
		for _, r := range moved[:3] {
			// The new vector finds the new version, once.
			res, err := p.query.Search(ctx, query.SearchRequest{Vector: f64(r.Embedding), K: ptr(5)})
			if err != nil {
				t.Fatal(err)
			}
			got := res.Results
			if len(got) == 0 || got[0].ID != r.ID || got[0].Content != r.Content {
				t.Fatalf("%s: %s/%s by its new vector: %+v", what, r.SystemID, r.ID, got)
			}
			for _, h := range got[1:] {
				if h.ID == r.ID && h.SystemID == r.SystemID {
					t.Fatalf("%s: %s/%s found twice", what, r.SystemID, r.ID)
				}
			}
		}
		for _, r := range append(slices.Clone(moved[:3]), stripped[:3]...) {
			// The old vector (a node of an older segment) never finds the old
			// version: other records, exactly.
			var old int
			fmt.Sscanf(r.ID, "r%05d", &old)
			q := vec(old)
			res, err := p.query.Search(ctx, query.SearchRequest{Vector: f64(q), K: ptr(10)})
			if err != nil {
				t.Fatal(err)
			}
			compare(t, what+" old vector of "+r.ID, res.Results, m.truth(q, 10, nil), m, 0.9)
		}
	}
	resent("re-sent")
	// Text search through the full-text segments: the latest versions
	// only, the stripped ones (no node: scored beside their segment) too.
	for _, q := range []string{"no vector now", "record 7 re-sent", "re-sent 3"} {
		res, err := p.query.Search(ctx, query.SearchRequest{Mode: "text", Text: q, K: ptr(20)})
		if err != nil {
			t.Fatal(err)
		}
		if segs, _ := query.TextStatsOf(res); segs == 0 {
			t.Fatalf("text %q: no full-text segment searched", q)
		}
		compareText(t, "text "+q, res.Results, m.bm25(q, 20, nil), m)
	}

	tbl, _ := p.lake.Table(schemas.TableMemories)
	for a := range tbl.Cached().AllFiles() {
		if pt, _ := lake.PartitionOf(a.PartitionValues); pt.Tier != schemas.TierHot {
			t.Fatalf("file %s not hot", a.Path)
		}
	}
}
