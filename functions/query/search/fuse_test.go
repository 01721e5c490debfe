package search

import "testing"

func TestFuse(t *testing.T) {
	bm := func(x float64) *float64 { return &x }
	vec := []Result{{SystemID: "s", ID: "a", Score: 0.9, Content: "from the vector ranking"}, {SystemID: "s", ID: "b", Score: 0.8}}
	text := []Result{{SystemID: "s", ID: "b", BM25: bm(3)}, {SystemID: "s", ID: "a", BM25: bm(2), Content: "from the text ranking"}, {SystemID: "s", ID: "c", BM25: bm(1)}}
	got, err := Fuse(vec, text, 0.5, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d results, want 2 (k)", len(got))
	}
	for i, r := range got {
		if r.Rank != i+1 || r.BM25 == nil || r.VectorScore == nil {
			t.Errorf("result %d: %+v", i, r)
		}
		if r.ID == "a" && r.Content != "from the vector ranking" {
			t.Errorf("a record both rankings hold shows the text ranking's: %q", r.Content)
		}
	}
	if got[0].Score < got[1].Score {
		t.Errorf("fused scores not best first: %v, %v", got[0].Score, got[1].Score)
	}
	// Text only: a record the vector ranking missed has no vector score.
	got, err = Fuse(nil, text[2:], 0.5, 5)
	if err != nil || len(got) != 1 || got[0].VectorScore != nil || got[0].BM25 == nil || *got[0].BM25 != 1 {
		t.Fatalf("text only: %+v, %v", got, err)
	}
	if HybridDepth(10) != 50 || HybridDepth(400) != 800 || HybridDepth(MaxK) != MaxK {
		t.Error("HybridDepth")
	}
}
