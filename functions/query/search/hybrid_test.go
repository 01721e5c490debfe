package search

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/akosha/akosha/lake/vecindex"
)

// fakeHits serves rows of files from memory and records what was read.
type fakeHits struct {
	rows map[string]vecindex.Hit // by file key/row
	read []string
}

func (h *fakeHits) HitsAt(_ context.Context, f *File, rows []uint32) ([]vecindex.Hit, error) {
	out := make([]vecindex.Hit, len(rows))
	for i, r := range rows {
		key := fmt.Sprintf("%s/%d", f.Key, r)
		hit, ok := h.rows[key]
		if !ok {
			return nil, fmt.Errorf("no row %s", key)
		}
		h.read = append(h.read, key)
		out[i] = hit
	}
	return out, nil
}

// The fused top k is read for the hits the vector ranking holds only
// (content and stored vector, whose exact score is the one shown); a hit
// only the text ranking holds keeps its text result, and candidates past
// the fused top k are never read.
func TestFuseRankedReadsFusedTopK(t *testing.T) {
	f := &File{Key: "f"}
	q := []float32{1, 0}
	cands := []Candidate{
		{Score: 0.9, File: f, Pos: 0, System: "s", ID: "a"},
		{Score: 0.8, File: f, Pos: 1, System: "s", ID: "b"},
		{Score: 0.7, File: f, Pos: 2, System: "s", ID: "c"},
		{Score: 0.6, File: f, Pos: 3, System: "s", ID: "d"},
	}
	hits := &fakeHits{rows: map[string]vecindex.Hit{
		"f/0": {Content: "a", Vec: []float32{0.91, 0}}, "f/1": {Content: "b", Vec: []float32{0.79, 0}},
		"f/2": {Content: "c", Vec: []float32{0.7, 0}}, "f/3": {Content: "d", Vec: []float32{0.6, 0}},
	}}
	bm := func(x float64) *float64 { return &x }
	txt := []Result{{SystemID: "s", ID: "b", Content: "b", BM25: bm(3)}, {SystemID: "s", ID: "x", Content: "x only", BM25: bm(2)}}
	// The same fusion on fully read rankings (Fuse) is the reference.
	read := []Result{{SystemID: "s", ID: "a", Score: 0.91}, {SystemID: "s", ID: "b", Score: 0.79}, {SystemID: "s", ID: "c", Score: 0.7}, {SystemID: "s", ID: "d", Score: 0.6}}
	want, err := Fuse(read, txt, 0.5, 3)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fuseRanked(context.Background(), hits, cands, txt, &Params{K: 3, Q: q, Weight: 0.5}, 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d", len(got), len(want))
	}
	for i, r := range got {
		w := want[i]
		if r.ID != w.ID || r.Rank != w.Rank || r.Score != w.Score || (r.BM25 == nil) != (w.BM25 == nil) || (r.VectorScore == nil) != (w.VectorScore == nil) {
			t.Fatalf("hit %d: %+v, want %+v", i, r, w)
		}
		if r.VectorScore != nil && *r.VectorScore != *w.VectorScore {
			t.Fatalf("hit %d: vector score %v, want the data's %v", i, *r.VectorScore, *w.VectorScore)
		}
		if r.Content != map[string]string{"a": "a", "b": "b", "c": "c", "x": "x only"}[r.ID] {
			t.Fatalf("hit %d: content %q", i, r.Content)
		}
	}
	if len(hits.read) != 2 {
		t.Fatalf("read %v, want the 2 fused hits the vector ranking holds", hits.read)
	}

	// A row that cannot be read is the search's error.
	delete(hits.rows, "f/0")
	if _, err := fuseRanked(context.Background(), hits, cands, txt, &Params{K: 3, Q: q, Weight: 0.5}, 50); err == nil {
		t.Fatal("no error for an unreadable row")
	}
}

// A ranking's failure is the error; the other's cancellation it caused is
// not added to it, but two failures of their own are joined.
func TestJoinRankings(t *testing.T) {
	ctx := context.Background()
	boom, bang := errors.New("boom"), errors.New("bang")
	if err := joinRankings(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	err := joinRankings(ctx, boom, fmt.Errorf("read: %w", context.Canceled))
	if !errors.Is(err, boom) || errors.Is(err, context.Canceled) {
		t.Fatalf("vector failed, text cancelled: %v", err)
	}
	err = joinRankings(ctx, context.Canceled, bang)
	if !errors.Is(err, bang) || errors.Is(err, context.Canceled) {
		t.Fatalf("text failed, vector cancelled: %v", err)
	}
	err = joinRankings(ctx, boom, bang)
	if !errors.Is(err, boom) || !errors.Is(err, bang) {
		t.Fatalf("both failed: %v", err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := joinRankings(done, context.Canceled, context.Canceled); !errors.Is(err, context.Canceled) {
		t.Fatalf("search cancelled: %v", err)
	}
}
