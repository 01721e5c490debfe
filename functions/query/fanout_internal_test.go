package query

import (
	"fmt"
	"strings"
	"testing"

	"github.com/akosha/akosha/functions/query/search"
)

func res(sys, id, tier string, score float32) SearchResult {
	return SearchResult{SystemID: sys, ID: id, Tier: tier, Score: score}
}

func part(version int64, rs ...SearchResult) *searchPart {
	return &searchPart{resp: &SearchResponse{Results: rs, Version: version}}
}

func names(rs []SearchResult) string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s/%s@%s=%.2f", r.SystemID, r.ID, r.Tier, r.Score))
	}
	return strings.Join(out, " ")
}

func TestFanoutMerge(t *testing.T) {
	for _, c := range []struct {
		name  string
		k     int
		thr   *float32
		parts []*searchPart
		want  string
		ver   int64
	}{
		{
			name: "best k by score, ties by system_id then id", k: 4,
			parts: []*searchPart{
				part(5, res("b", "2", "hot", 0.9), res("a", "9", "hot", 0.5)),
				part(5, res("a", "3", "warm", 0.5), res("b", "1", "warm", 0.5), res("c", "0", "warm", 0.1)),
			},
			want: "b/2@hot=0.90 a/3@warm=0.50 a/9@hot=0.50 b/1@warm=0.50", ver: 5,
		},
		{
			// Mid-move, one record in two answers: the newer snapshot says
			// where it lives now, whatever the scores.
			name: "a record in two answers: the newer snapshot's", k: 10,
			parts: []*searchPart{
				part(7, res("s", "m", "hot", 0.8)),
				part(8, res("s", "m", "warm", 0.79)),
			},
			want: "s/m@warm=0.79", ver: 7,
		},
		{
			name: "a record in two answers of one version: the higher score", k: 10,
			parts: []*searchPart{
				part(8, res("s", "m", "hot", 0.7)),
				part(8, res("s", "m", "warm", 0.71)),
			},
			want: "s/m@warm=0.71", ver: 8,
		},
		{
			name: "threshold", k: 10, thr: ptr32(0.5),
			parts: []*searchPart{
				part(1, res("s", "a", "hot", 0.6), res("s", "b", "hot", 0.4)),
				part(1, res("s", "c", "warm", 0.5)),
			},
			want: "s/a@hot=0.60 s/c@warm=0.50", ver: 1,
		},
		{name: "nothing", k: 3, parts: []*searchPart{part(2), part(3)}, want: "", ver: 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := &searchParams{Params: search.Params{K: c.k}}
			if c.thr != nil {
				p.Threshold, p.HasThreshold = *c.thr, true
			}
			got := mergeParts(c.parts, p)
			if names(got.Results) != c.want || got.Version != c.ver {
				t.Errorf("got %q (version %d), want %q (version %d)", names(got.Results), got.Version, c.want, c.ver)
			}
			if got.Results == nil {
				t.Error("nil results: the answer must say [] , not null")
			}
		})
	}
}

func ptr32(f float32) *float32 { return &f }

func TestFanoutDecodeStoreAnswer(t *testing.T) {
	ok := `{"results":[{"system_id":"s","id":"1","kind":"memory","content":"c","score":0.5,"created_at":"2026-11-01T00:00:00Z","tier":"hot","project":""}],"elapsed_ms":1.5,"version":9}` + "\n"
	a, err := decodeStoreAnswer([]byte(ok), "hot", 1)
	if err != nil || len(a.Results) != 1 || a.Version != 9 || a.Results[0].Content != "c" {
		t.Fatalf("%+v %v", a, err)
	}
	// A newer store's extra fields are ignored (rolling upgrades).
	if a, err := decodeStoreAnswer([]byte(`{"results":[],"version":3,"took_by_phase":{"scan":1}}`), "hot", 10); err != nil || a.Version != 3 {
		t.Errorf("answer with an unknown field: %+v %v", a, err)
	}
	for name, c := range map[string]struct {
		body, tier string
		k          int
	}{
		"two values":        {`{"results":[],"version":1} {}`, "hot", 10},
		"not JSON":          {`<html>`, "hot", 10},
		"more than k":       {ok, "hot", 0},
		"another tier":      {ok, "warm", 10},
		"no id":             {`{"results":[{"system_id":"s","id":"","tier":"hot","score":0.1}],"version":1}`, "hot", 10},
		"score not a float": {`{"results":[{"system_id":"s","id":"1","tier":"hot","score":"NaN"}],"version":1}`, "hot", 10},
	} {
		if _, err := decodeStoreAnswer([]byte(c.body), c.tier, c.k); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
