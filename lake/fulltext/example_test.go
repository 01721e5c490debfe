package fulltext_test

import (
	"bytes"
	"fmt"

	"github.com/akosha/akosha/lake/fulltext"
)

// A tier with one index segment and one fresh file no segment covers yet:
// the segment's and the file's statistics are merged, so their scores
// compare, and a filter runs inside the search.
func Example() {
	b := fulltext.NewBuilder()
	for i, d := range []fulltext.Doc{
		{Content: "Fixed the flaky commit retry in lake/delta", Tags: []string{"bug"}},
		{Content: "Parquet row groups sized for DuckDB"},
		{Content: "The retry loop now backs off with jitter", Tags: []string{"retry"}},
		{Content: "HNSW segments per tier, any systems in a segment"},
		{Content: "Compaction writes files sorted by system and time"},
		{Content: "Vacuum deletes removed files after a grace period"},
	} {
		if err := b.Add(uint32(i), d); err != nil {
			panic(err)
		}
	}
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		panic(err)
	}
	seg, err := fulltext.Open(buf.Bytes()) // or the bytes of an mmap'd object
	if err != nil {
		panic(err)
	}
	fresh := fulltext.NewTexts([]fulltext.Doc{{Content: "Retry budget for S3 PUTs"}})

	q := fulltext.ParseQuery("retry jitter", fulltext.MatchAny)
	hits, err := fulltext.SearchAll(q, fulltext.Options{K: 10}, seg, fresh)
	if err != nil {
		panic(err)
	}
	for _, h := range hits {
		fmt.Printf("source %d doc %d score %.4f\n", h.Source, h.Doc, h.Score)
	}
	// The same search of the segment alone, with a filter inside it and the
	// tier's statistics.
	st, _ := fresh.Stats(q.Terms)
	own, _ := seg.Stats(q.Terms)
	tier := fulltext.MergeStats(st, own)
	hits2, err := seg.Search(q, fulltext.Options{K: 10, Stats: &tier, Allow: func(doc uint32) bool { return doc != 2 }})
	if err != nil {
		panic(err)
	}
	for _, h := range hits2 {
		fmt.Printf("doc %d score %.4f\n", h.Doc, h.Score)
	}
	// Output:
	// source 0 doc 2 score 1.7028
	// source 1 doc 0 score 0.2936
	// source 0 doc 0 score 0.2353
	// doc 0 score 0.2353
}
