package indexer

import (
	"bytes"
	"testing"

	"github.com/akosha/akosha/lake/vecindex"
)

func TestLatestKeepsOneVersionWithAVector(t *testing.T) {
	v := func(x float32) []float32 {
		out := make([]float32, vecindex.Dim)
		out[0] = x
		return out
	}
	// File 0: a@1 (vector), b@1 (vector), c@5 (vector).
	// File 1: a@2 (vector, newer), b@3 (no vector: b disappears), c@4 (older: c stays from file 0).
	f0 := &vecindex.FileData{
		System: []string{"s", "s", "s"}, ID: []string{"a", "b", "c"}, Ingested: []int64{1, 1, 5}, Kind: []string{"memory", "memory", "reflection"},
		Project: []string{"", "p", "p"}, Created: []int64{10, 11, 12},
		VecRow: []uint32{0, 1, 2}, Vecs: append(append(v(1), v(2)...), v(3)...),
	}
	f1 := &vecindex.FileData{
		System: []string{"s", "s", "s"}, ID: []string{"a", "b", "c"}, Ingested: []int64{2, 3, 4}, Kind: []string{"conversation", "memory", "memory"},
		Project: []string{"q", "", ""}, Created: []int64{20, 21, 22},
		VecRow: []uint32{0, 2}, Vecs: append(v(4), v(6)...),
	}
	rows, flat := latest([]*vecindex.FileData{f0, f1})
	if rows.Len() != 2 || len(flat) != 2*vecindex.Dim {
		t.Fatalf("%d rows: %+v", rows.Len(), rows)
	}
	// c (file 0, row 2) then a (file 1, row 0): file and row order.
	if rows.ID[0] != "c" || rows.File[0] != 0 || rows.Pos[0] != 2 || flat[0] != 3 || rows.Kinds[rows.Kind[0]] != "reflection" || rows.Projects[rows.Project[0]] != "p" {
		t.Fatalf("row 0: %+v", rows)
	}
	if rows.ID[1] != "a" || rows.File[1] != 1 || rows.Pos[1] != 0 || flat[vecindex.Dim] != 4 || rows.Ingested[1] != 2 || rows.Created[1] != 20 || rows.Projects[rows.Project[1]] != "q" {
		t.Fatalf("row 1: %+v", rows)
	}
	// The rows that are not nodes are named too: with the nodes, every
	// row of every covered file, a repeated key once per row.
	got := map[[2]any]int{}
	rows.Keys(func(file uint32, system, id string) {
		if system != "s" {
			t.Errorf("file %d key %s: system %q", file, id, system)
		}
		got[[2]any{file, id}]++
	})
	for fi, d := range []*vecindex.FileData{f0, f1} {
		for _, id := range d.ID {
			if got[[2]any{uint32(fi), id}] != 1 {
				t.Errorf("file %d key %s named %d times", fi, id, got[[2]any{uint32(fi), id}])
			}
		}
	}
	if len(rows.OtherID) != 4 {
		t.Errorf("other rows %v in %v, want a and b of file 0, b and c of file 1", rows.OtherID, rows.OtherFile)
	}
	b, err := rows.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := vecindex.DecodeRows(bytesReader(b))
	if err != nil || back.Len() != 2 || back.ID[1] != "a" || len(back.OtherID) != 4 {
		t.Fatalf("round trip: %v %+v", err, back)
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
