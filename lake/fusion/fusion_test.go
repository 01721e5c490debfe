package fusion

import (
	"math"
	"testing"
)

func list(keys ...string) []Scored[string] {
	out := make([]Scored[string], len(keys))
	for i, k := range keys {
		out[i] = Scored[string]{Key: k, Score: float64(100 - i)}
	}
	return out
}

type want struct {
	key      string
	score    float64
	vec, txt int // 1-based input ranks, 0 = absent
}

func TestFuse(t *testing.T) {
	cases := []struct {
		name         string
		vector, text []Scored[string]
		o            Options
		want         []want
	}{
		{"empty", nil, nil, DefaultOptions(), nil},
		{
			"vector only", list("a", "b"), nil, DefaultOptions(),
			[]want{{"a", 0.5 / 61, 1, 0}, {"b", 0.5 / 62, 2, 0}},
		},
		{
			"text only", nil, list("x", "y"), DefaultOptions(),
			[]want{{"x", 0.5 / 61, 0, 1}, {"y", 0.5 / 62, 0, 2}},
		},
		{
			"both lists: agreement wins", list("a", "b", "c"), list("c", "a", "d"), DefaultOptions(),
			[]want{
				{"a", 0.5/61 + 0.5/62, 1, 2},
				{"c", 0.5/63 + 0.5/61, 3, 1},
				{"b", 0.5 / 62, 2, 0},
				{"d", 0.5 / 63, 0, 3},
			},
		},
		{
			"weight favours vectors", list("a", "b"), list("b", "a"), Options{Weight: 0.8},
			[]want{{"a", 0.8/61 + 0.2/62, 1, 2}, {"b", 0.8/62 + 0.2/61, 2, 1}},
		},
		{
			"weight favours text", list("a", "b"), list("b", "a"), Options{Weight: 0.2},
			[]want{{"b", 0.2/62 + 0.8/61, 2, 1}, {"a", 0.2/61 + 0.8/62, 1, 2}},
		},
		{
			"weight 1: text adds nothing", list("a"), list("z", "a"), Options{Weight: 1},
			[]want{{"a", 1.0 / 61, 1, 2}, {"z", 0, 0, 1}},
		},
		{
			"weight 0: vectors add nothing", list("a", "b"), list("b"), Options{Weight: 0},
			[]want{{"b", 1.0 / 61, 2, 1}, {"a", 0, 1, 0}},
		},
		{
			"rank constant", list("a", "b"), list("b"), Options{Weight: 0.5, K: 1},
			[]want{{"b", 0.5/3 + 0.5/2, 2, 1}, {"a", 0.5 / 2, 1, 0}},
		},
		{
			"ties: the vector hit first, then the order met", list("a", "p"), list("b", "q"), DefaultOptions(),
			[]want{{"a", 0.5 / 61, 1, 0}, {"b", 0.5 / 61, 0, 1}, {"p", 0.5 / 62, 2, 0}, {"q", 0.5 / 62, 0, 2}},
		},
		{
			"a duplicate counts at its best place", list("a", "b", "a"), list("b", "b"), DefaultOptions(),
			[]want{{"b", 0.5/62 + 0.5/61, 2, 1}, {"a", 0.5 / 61, 1, 0}},
		},
		{
			"limit", list("a", "b", "c"), list("c"), Options{Weight: 0.5, Limit: 2},
			[]want{{"c", 0.5/63 + 0.5/61, 3, 1}, {"a", 0.5 / 61, 1, 0}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Fuse(c.vector, c.text, c.o)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("%d hits, want %d: %+v", len(got), len(c.want), got)
			}
			for i, w := range c.want {
				h := got[i]
				if h.Key != w.key || math.Abs(h.Score-w.score) > 1e-15 || h.Rank != i+1 ||
					h.VectorRank != w.vec || h.TextRank != w.txt {
					t.Errorf("hit %d: %+v, want %+v", i, h, w)
				}
				// The inputs' scores come along with their ranks.
				if (w.vec > 0) != (h.VectorScore != 0) || (w.vec > 0 && h.VectorScore != float64(100-(w.vec-1))) {
					t.Errorf("hit %d: vector score %v at rank %d", i, h.VectorScore, w.vec)
				}
				if (w.txt > 0) != (h.TextScore != 0) || (w.txt > 0 && h.TextScore != float64(100-(w.txt-1))) {
					t.Errorf("hit %d: text score %v at rank %d", i, h.TextScore, w.txt)
				}
			}
		})
	}
}

func TestFuseRejects(t *testing.T) {
	for _, o := range []Options{
		{Weight: -0.1}, {Weight: 1.5}, {Weight: math.NaN()},
		{Weight: 0.5, K: -1}, {Weight: 0.5, K: math.NaN()}, {Weight: 0.5, K: math.Inf(1)},
		{Weight: 0.5, Limit: -1},
	} {
		if _, err := Fuse(list("a"), list("a"), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

// Keys can be any comparable type: the query side will use (system, id).
func TestFuseStructKeys(t *testing.T) {
	type key struct{ system, id string }
	v := []Scored[key]{{key{"s1", "m1"}, 0.9}, {key{"s2", "m1"}, 0.8}}
	x := []Scored[key]{{key{"s2", "m1"}, 7.5}}
	got, err := Fuse(v, x, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Key != (key{"s2", "m1"}) || got[0].VectorScore != 0.8 || got[0].TextScore != 7.5 || got[0].Rank != 1 {
		t.Errorf("%+v", got)
	}
}
