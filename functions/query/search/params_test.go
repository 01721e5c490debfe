package search

import (
	"errors"
	"testing"
	"time"

	"github.com/akosha/akosha/lake/vecindex"
)

func TestValidate(t *testing.T) {
	vec := make([]float64, vecindex.Dim)
	vec[0] = 2
	k := func(n int) *int { return &n }
	w := func(x float64) *float64 { return &x }
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name     string
		q        Query
		canEmbed bool
		code     string // "" when valid
		mode     string
		embed    bool
	}{
		{"vector", Query{Vector: vec}, false, "", ModeVector, false},
		{"text without embeddings", Query{Text: "go"}, false, "", ModeText, false},
		{"text with embeddings", Query{Text: "go"}, true, "", ModeHybrid, true},
		{"both", Query{Vector: vec, Text: "go"}, false, "", ModeHybrid, false},
		{"nothing", Query{}, true, "missing_query", "", false},
		{"bad mode", Query{Text: "go", Mode: "fuzzy"}, true, "invalid_mode", "", false},
		{"weight outside hybrid", Query{Vector: vec, HybridWeight: w(0.3)}, false, "invalid_hybrid_weight", "", false},
		{"weight out of range", Query{Text: "go", Vector: vec, HybridWeight: w(2)}, false, "invalid_hybrid_weight", "", false},
		{"k", Query{Vector: vec, K: k(MaxK + 1)}, false, "invalid_k", "", false},
		{"threshold in text mode", Query{Text: "go", Mode: ModeText, Threshold: w(0.5)}, false, "invalid_threshold", "", false},
		{"short vector", Query{Vector: vec[:3]}, false, "invalid_vector", "", false},
		{"hybrid without embeddings", Query{Text: "go", Mode: ModeHybrid}, false, "text_search_unavailable", "", false},
		{"bad system", Query{Vector: vec, Filter: &Filter{SystemID: StringList{"a b"}}}, false, "invalid_filter", "", false},
		{"tags_all alone", Query{Vector: vec, Filter: &Filter{TagsAll: true}}, false, "invalid_filter", "", false},
		{"from after to", Query{Vector: vec, Filter: &Filter{From: "2026-02-01T00:00:00Z", To: "2026-01-01T00:00:00Z"}}, false, "invalid_time", "", false},
	}
	for _, c := range cases {
		p, err := Validate(c.q, now, c.canEmbed)
		if c.code != "" {
			var e *Error
			if !errors.As(err, &e) || e.Code != c.code {
				t.Errorf("%s: got %v, want %s", c.name, err, c.code)
			} else if e.Unprocessable != (c.code == "invalid_vector") {
				t.Errorf("%s: Unprocessable %v", c.name, e.Unprocessable)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if p.Mode != c.mode || p.NeedsEmbedding() != c.embed || p.K != DefaultK || !p.Now.Equal(now) {
			t.Errorf("%s: mode %s, needs embedding %v, k %d", c.name, p.Mode, p.NeedsEmbedding(), p.K)
		}
		if p.Q != nil && p.Q[0] != 1 {
			t.Errorf("%s: query vector not unit length: %v", c.name, p.Q[0])
		}
	}
}

func TestTagsMatch(t *testing.T) {
	anyOf := &Params{Tags: []string{"a", "b"}}
	all := &Params{Tags: []string{"a", "b"}, TagsAll: true}
	for _, c := range []struct {
		tags     []string
		any, all bool
	}{
		{nil, false, false},
		{[]string{"a"}, true, false},
		{[]string{"b", "a", "c"}, true, true},
		{[]string{"c"}, false, false},
	} {
		if got := anyOf.TagsMatch(c.tags); got != c.any {
			t.Errorf("any of a, b in %v: %v", c.tags, got)
		}
		if got := all.TagsMatch(c.tags); got != c.all {
			t.Errorf("all of a, b in %v: %v", c.tags, got)
		}
	}
	if !(&Params{}).TagsMatch(nil) {
		t.Error("no tags filter refused a row")
	}
}
