package fulltext

import (
	"fmt"
	"testing"
)

// A Filtered segment searched with SearchAll beside Texts scores exactly
// as Texts of the admitted documents alone: StatsAllowed leaves out what
// the filter hides, from the counts and from the document frequencies.
func TestFilteredEqualsExactOfAdmitted(t *testing.T) {
	docs := corpus(7, 1500, 200)
	seg := buildSegment(t, docs[:1000])
	rest := NewTexts(docs[1000:])
	allow := func(d uint32) bool { return d%3 != 0 }
	var admitted []Doc
	var from []int // position in docs of each admitted doc
	for i, d := range docs {
		if i >= 1000 || allow(uint32(i)) {
			admitted = append(admitted, d)
			from = append(from, i)
		}
	}
	exact := NewTexts(admitted)
	for _, text := range []string{"w1", "w3 w17", "w0 w2 w150"} {
		for _, m := range []Match{MatchAny, MatchAll} {
			t.Run(fmt.Sprintf("%s/%v", text, m), func(t *testing.T) {
				q := ParseQuery(text, m)
				got, err := SearchAll(q, Options{K: 20}, Filtered{Seg: seg, Allow: allow}, rest)
				if err != nil {
					t.Fatal(err)
				}
				want, err := exact.Search(q, Options{K: 20})
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) {
					t.Fatalf("%d hits, want %d", len(got), len(want))
				}
				for i, h := range got {
					pos := int(h.Doc)
					if h.Source == 1 {
						pos += 1000
					}
					if !allow(uint32(pos)) && pos < 1000 {
						t.Fatalf("hit %d: doc %d is filtered out", i, pos)
					}
					if !closeTo(h.Score, want[i].Score) {
						t.Fatalf("hit %d: score %v, want %v", i, h.Score, want[i].Score)
					}
					if w := from[want[i].Doc]; w != pos && h.Score != want[i].Score {
						t.Fatalf("hit %d: doc %d, want %d", i, pos, w)
					}
				}
			})
		}
	}
	// Without a filter, StatsAllowed is Stats.
	a, err := seg.StatsAllowed([]string{"w1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := seg.Stats([]string{"w1"})
	if a.Docs != b.Docs || a.Tokens != b.Tokens || a.DF["w1"] != b.DF["w1"] {
		t.Fatalf("nil allow: %+v, Stats: %+v", a, b)
	}
}
