package fulltext

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// Block-max pruning keeps the OR search's top k exactly the exhaustive
// scoring's, on the corpus it is for (a few words, each in nearly every
// document, so the terms' own bounds prune nothing) and on a Zipf one,
// with and without a filter and repeated terms; and it does skip blocks.
func TestBlockMaxEqualsExhaustive(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 41))
	n, queries := 3000, 40
	if raceEnabled {
		n, queries = 1200, 10 // still 8 and more blocks per term
	}
	few := make([]Doc, n)
	for i := range few {
		var b strings.Builder
		for range 4 + r.IntN(20) {
			fmt.Fprintf(&b, "v%d ", r.IntN(12))
		}
		few[i].Content = b.String()
	}
	before := blockSkips.Load()
	for ci, docs := range [][]Doc{few, corpus(5, n, 200)} {
		seg := buildSegment(t, docs)
		ref := newRef(docs)
		for i := range queries {
			var terms []string
			for range 1 + i%3 {
				if ci == 0 {
					terms = append(terms, fmt.Sprintf("v%d", r.IntN(12)))
				} else {
					terms = append(terms, fmt.Sprintf("w%d", r.IntN(8)))
				}
			}
			if i%5 == 0 {
				terms = append(terms, terms[0]) // repeated: counts twice
			}
			q := Query{Terms: terms, Match: MatchAny}
			k := []int{1, 10, 50, 200}[i%4]
			var allow func(uint32) bool
			if i%3 == 2 {
				allow = func(d uint32) bool { return d%5 != 1 }
			}
			want := ref.search(q, k, BM25{}, allow)
			got, err := seg.Search(q, Options{K: k, Allow: allow})
			if err != nil {
				t.Fatal(err)
			}
			if !sameHits(got, want) {
				t.Fatalf("corpus %d %v k=%d: got %v\nwant %v", ci, terms, k, got, want)
			}
		}
	}
	if blockSkips.Load() == before {
		t.Fatal("no block was skipped")
	}
}
