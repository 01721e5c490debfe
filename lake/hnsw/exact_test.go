package hnsw

import (
	"cmp"
	"slices"
	"testing"
)

func TestExact(t *testing.T) {
	const n, d = 5000, 48
	v := gaussian(n, d, 11)
	// Plant exact ties: rows 10 and 4000 equal row 3.
	copy(v[10*d:11*d], v[3*d:4*d])
	copy(v[4000*d:4001*d], v[3*d:4*d])
	q := v[3*d : 4*d]

	type scored struct {
		id int32
		s  float32
	}
	all := make([]scored, n)
	for i := range n {
		all[i] = scored{int32(i), dot(q, v[i*d:(i+1)*d])}
	}
	slices.SortStableFunc(all, func(a, b scored) int { return cmp.Compare(b.s, a.s) })

	for _, k := range []int{1, 3, 10, 100, n, n + 5} {
		got, err := Exact(v, d, q, k, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != min(k, n) {
			t.Fatalf("k=%d: %d results", k, len(got))
		}
		for i, r := range got {
			if r.ID != all[i].id || r.Score != all[i].s {
				t.Fatalf("k=%d: result %d is %v, want %v", k, i, r, all[i])
			}
		}
		par, err := ExactParallel(v, d, q, k, nil, 3)
		if err != nil || !sameResults(par, got) {
			t.Fatalf("k=%d: parallel %v, sequential %v", k, par, got)
		}
	}
	// Ties go to the lower id.
	got, _ := Exact(v, d, q, 3, nil)
	if got[0].ID != 3 || got[1].ID != 10 || got[2].ID != 4000 {
		t.Fatalf("ties: %v", got)
	}

	odd := func(id int32) bool { return id%2 == 1 }
	got, _ = Exact(v, d, q, 20, odd)
	for _, r := range got {
		if !odd(r.ID) {
			t.Fatalf("filtered result %d", r.ID)
		}
	}
	par, _ := ExactParallel(v, d, q, 20, odd, 0)
	if !sameResults(par, got) {
		t.Fatalf("filtered parallel %v, sequential %v", par, got)
	}
}

func TestHeaps(t *testing.T) {
	v := gaussian(1, 1000, 5)
	var mn minHeap
	var mx maxHeap
	for i, x := range v {
		mn.push(item{x, int32(i)})
		mx.push(item{x, int32(i)})
	}
	prev := mn.pop()
	for len(mn) > 0 {
		x := mn.pop()
		if less(x, prev) {
			t.Fatal("minHeap out of order")
		}
		prev = x
	}
	prev = mx.pop()
	for len(mx) > 0 {
		x := mx.pop()
		if less(prev, x) {
			t.Fatal("maxHeap out of order")
		}
		prev = x
	}
}
