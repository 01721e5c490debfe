package search

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/akosha/akosha/lake/fulltext"
)

func testSegment(t *testing.T, n int) *fulltext.Segment {
	t.Helper()
	b := fulltext.NewBuilder()
	words := []string{"lake", "graph", "retry", "vacuum", "tier", "flaky", "backoff", "parquet"}
	for i := range n {
		d := fulltext.Doc{Content: fmt.Sprintf("%s %s %s", words[i%len(words)], words[(i*3+1)%len(words)], words[(i*i)%len(words)])}
		if i%4 == 0 {
			d.Tags = []string{words[(i+2)%len(words)]}
		}
		if err := b.Add(uint32(i), d); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	seg, err := fulltext.Open(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := seg.CheckTokens(); err != nil {
		t.Fatal(err)
	}
	return seg
}

// A segment whose every document the search admits is searched with its
// stored statistics, unfiltered, and scores exactly as the counted path
// (StatsAllowed over an allow that admits every document); a segment with
// one document not admitted, or fewer admissions than documents, takes the
// counted path.
func TestSegmentSourceStoredStats(t *testing.T) {
	const n = 200
	seg := testSegment(t, n)
	all := make([]bool, n)
	for i := range all {
		all[i] = true
	}
	one := append([]bool(nil), all...)
	one[17] = false
	for _, c := range []struct {
		name  string
		adm   []bool
		whole bool
	}{{"all", all, true}, {"one hidden", one, false}, {"short", all[:n-1], false}, {"none", make([]bool, n), false}} {
		src, whole := segmentSource(seg, c.adm)
		if whole != c.whole {
			t.Fatalf("%s: whole %v, want %v", c.name, whole, c.whole)
		}
		adm := c.adm
		counted := fulltext.Filtered{Seg: seg, Allow: func(d uint32) bool { return int(d) < len(adm) && adm[d] }}
		for _, text := range []string{"lake", "retry graph", "flaky parquet tier nothing"} {
			q := fulltext.ParseQuery(text, fulltext.MatchAny)
			got, err := src.Stats(q.Terms)
			if err != nil {
				t.Fatal(err)
			}
			want, err := counted.Stats(q.Terms)
			if err != nil {
				t.Fatal(err)
			}
			if got.Docs != want.Docs || got.Tokens != want.Tokens || fmt.Sprint(got.DF) != fmt.Sprint(want.DF) {
				t.Fatalf("%s %q: stats %+v, counted %+v", c.name, text, got, want)
			}
			if want.Docs == 0 {
				continue
			}
			gh, err := src.Search(q, fulltext.Options{K: 30, Stats: &got})
			if err != nil {
				t.Fatal(err)
			}
			wh, err := counted.Search(q, fulltext.Options{K: 30, Stats: &want})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(gh) != fmt.Sprint(wh) || len(gh) == 0 {
				t.Fatalf("%s %q: hits %v, counted %v", c.name, text, gh, wh)
			}
		}
	}
}
