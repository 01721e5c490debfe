package fulltext

import (
	"bytes"
	"sync"
	"testing"

	"github.com/akosha/akosha/internal/cputime"
	"github.com/akosha/akosha/internal/gen"
)

var fleetDocs = sync.OnceValue(func() []Doc {
	docs := make([]Doc, 20000)
	for i := range docs {
		docs[i] = Doc{Content: gen.SessionText(1, i), Tags: gen.SessionTags(1, i)}
	}
	return docs
})

// BenchmarkBuild: building and writing a segment of 20,000 fleet memories
// (13 MB of text); bytes/s is text indexed.
func BenchmarkBuild(b *testing.B) {
	docs := fleetDocs()
	var n int64
	for _, d := range docs {
		n += int64(len(d.Content))
	}
	b.SetBytes(n)
	var buf bytes.Buffer
	cpu := cputime.Self()
	defer func() { b.ReportMetric(float64(cputime.Self()-cpu)/float64(b.N), "cpu-ns/op") }()
	for b.Loop() {
		bl := NewBuilder()
		for i, d := range docs {
			if err := bl.Add(uint32(i), d); err != nil {
				b.Fatal(err)
			}
		}
		buf.Reset()
		if _, err := bl.WriteTo(&buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSearch: the queries of the full-text benchmark's shape (1 to 3
// terms drawn from the documents) over the same segment.
func BenchmarkSearch(b *testing.B) {
	docs := fleetDocs()
	seg := buildSegment(b, docs)
	var queries [][]string
	for i := range 300 {
		toks := Tokens(docs[(i*7919)%len(docs)].Content)
		q := make([]string, 1+i%3)
		for j := range q {
			q[j] = toks[(i*31+j*17)%len(toks)]
		}
		queries = append(queries, q)
	}
	for _, m := range []Match{MatchAll, MatchAny} {
		b.Run(m.String(), func(b *testing.B) {
			cpu := cputime.Self()
			defer func() { b.ReportMetric(float64(cputime.Self()-cpu)/float64(b.N*len(queries)), "cpu-ns/query") }()
			for b.Loop() {
				for _, q := range queries {
					if _, err := seg.Search(Query{Terms: q, Match: m}, Options{}); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*len(queries))/b.Elapsed().Seconds(), "queries/s")
		})
	}
}
