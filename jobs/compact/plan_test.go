package compact

import (
	"fmt"
	"reflect"
	"testing"
)

func fi(part, path string, size int64) FileInfo {
	return FileInfo{Path: path, Partition: part, Size: size, Rows: size / 10}
}

func paths(g Group) []string {
	var out []string
	for _, f := range g.Files {
		out = append(out, f.Path)
	}
	return out
}

func TestPlanGroupsSmallFilesPerPartition(t *testing.T) {
	files := []FileInfo{
		fi("p2", "p2/b", 30), fi("p1", "p1/c", 40), fi("p1", "p1/a", 30),
		fi("p2", "p2/a", 30), fi("p1", "p1/b", 30),
	}
	got := Plan(files, PlanOptions{TargetSize: 100})
	if len(got) != 2 {
		t.Fatalf("groups: %+v", got)
	}
	if got[0].Partition != "p1" || !reflect.DeepEqual(paths(got[0]), []string{"p1/a", "p1/b", "p1/c"}) || got[0].Size != 100 || got[0].Rows != 10 {
		t.Fatalf("group 0: %+v", got[0])
	}
	if got[1].Partition != "p2" || !reflect.DeepEqual(paths(got[1]), []string{"p2/a", "p2/b"}) {
		t.Fatalf("group 1: %+v", got[1])
	}
}

func TestPlanRespectsTarget(t *testing.T) {
	var files []FileInfo
	for i := range 10 {
		files = append(files, fi("p", fmt.Sprintf("p/%02d", i), 30))
	}
	got := Plan(files, PlanOptions{TargetSize: 100})
	// 3+3+3 files of 30 (90 each); the 10th alone is dropped.
	if len(got) != 3 {
		t.Fatalf("groups: %d %+v", len(got), got)
	}
	for _, g := range got {
		if g.Size > 100 || len(g.Files) != 3 {
			t.Fatalf("group over target or wrong size: %+v", g)
		}
	}
}

func TestPlanSkipsLargeAndLoneFiles(t *testing.T) {
	files := []FileInfo{
		fi("big", "big/a", 200),                                 // one large file: nothing to do
		fi("lone", "lone/a", 10),                                // one small file: nothing to do
		fi("mixed", "mixed/a", 150), fi("mixed", "mixed/b", 10), // large + one small
		fi("exact", "exact/a", 100), fi("exact", "exact/b", 100), // at target: left alone
	}
	if got := Plan(files, PlanOptions{TargetSize: 100}); len(got) != 0 {
		t.Fatalf("want no groups, got %+v", got)
	}
	if got := Plan(nil, PlanOptions{}); len(got) != 0 {
		t.Fatalf("empty input: %+v", got)
	}
}

func TestPlanDeterministicAndPure(t *testing.T) {
	files := []FileInfo{fi("b", "b/2", 5), fi("a", "a/2", 5), fi("b", "b/1", 5), fi("a", "a/1", 5)}
	in := append([]FileInfo(nil), files...)
	first := Plan(files, PlanOptions{TargetSize: 100})
	if !reflect.DeepEqual(files, in) {
		t.Fatal("Plan modified its input")
	}
	rev := []FileInfo{files[3], files[2], files[1], files[0]}
	if second := Plan(rev, PlanOptions{TargetSize: 100}); !reflect.DeepEqual(first, second) {
		t.Fatalf("input order changed the plan:\n%+v\n%+v", first, second)
	}
	if first[0].Partition != "a" || first[1].Partition != "b" || paths(first[0])[0] != "a/1" {
		t.Fatalf("order: %+v", first)
	}
}

func TestPlanUnknownRows(t *testing.T) {
	files := []FileInfo{fi("p", "p/a", 5), {Path: "p/b", Partition: "p", Size: 5, Rows: -1}}
	got := Plan(files, PlanOptions{TargetSize: 100})
	if len(got) != 1 || got[0].Rows != -1 {
		t.Fatalf("%+v", got)
	}
}

func TestPlanMinFiles(t *testing.T) {
	files := []FileInfo{fi("p", "p/a", 5), fi("p", "p/b", 5)}
	if got := Plan(files, PlanOptions{TargetSize: 100, MinFiles: 3}); len(got) != 0 {
		t.Fatalf("%+v", got)
	}
}

// Files of two encodings in one partition (the tiers' layouts changed
// between runs) are merged separately: a group is read and written in one
// encoding.
func TestPlanSeparatesEncodings(t *testing.T) {
	q := func(path string) FileInfo { f := fi("p", path, 10); f.Encoding = "int8"; return f }
	files := []FileInfo{fi("p", "p/a", 10), q("p/b"), fi("p", "p/c", 10), q("p/d")}
	got := Plan(files, PlanOptions{TargetSize: 100})
	if len(got) != 2 {
		t.Fatalf("groups: %+v", got)
	}
	if got[0].Encoding != "" || !reflect.DeepEqual(paths(got[0]), []string{"p/a", "p/c"}) {
		t.Errorf("float32 group: %+v", got[0])
	}
	if got[1].Encoding != "int8" || !reflect.DeepEqual(paths(got[1]), []string{"p/b", "p/d"}) {
		t.Errorf("int8 group: %+v", got[1])
	}
}
