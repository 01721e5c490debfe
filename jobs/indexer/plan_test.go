package indexer

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/vecindex"
)

// planFile is a live file of the hot tier with rows rows in its statistics
// (rows < 0: no statistics).
func planFile(name string, rows int) delta.Add {
	a := delta.Add{Path: "tier=hot/day=2026-01-01/" + name + ".parquet", Size: int64(100 + rows)}
	if rows >= 0 {
		a.Stats = fmt.Sprintf(`{"numRecords":%d}`, rows)
	}
	return a
}

func statRows(a delta.Add) int {
	var n int
	fmt.Sscanf(a.Stats, `{"numRecords":%d}`, &n)
	return n
}

// planSeg is a segment over files, a vector per row.
func planSeg(id string, files ...delta.Add) *vecindex.Manifest {
	m := &vecindex.Manifest{Version: vecindex.FormatVersion, Dim: vecindex.Dim, Tier: "hot", Key: "memories/_indexes/tier=hot/" + id + ".json", RowKeys: true}
	for _, f := range files {
		n := statRows(f)
		if f.Stats == "" {
			n = 1000 // what a build would read from it
		}
		m.Files = append(m.Files, vecindex.FileRef{Path: f.Path, Size: f.Size, Vectors: n})
		m.Vectors += n
	}
	return m
}

var testPlan = planConfig{minVectors: DefaultMinVectors, maxSegments: DefaultMaxSegments, mergeFactor: DefaultMergeFactor}

// apply is a run's outcome as the planner will see it next: every build a
// new segment (ids after every existing one), with a vector per row. The
// segments it replaces stay: vacuum deletes them, and vecindex.Segments
// must pass them over meanwhile.
func apply(t *testing.T, existing []*vecindex.Manifest, builds []build) []*vecindex.Manifest {
	t.Helper()
	out := slices.Clone(existing)
	for _, b := range builds {
		out = append(out, planSeg(fmt.Sprintf("09%04d", len(out)), b.files...))
	}
	return out
}

func paths(files []delta.Add) string {
	var out []string
	for _, f := range files {
		out = append(out, strings.TrimSuffix(f.Path[strings.LastIndexByte(f.Path, '/')+1:], ".parquet"))
	}
	return strings.Join(out, ",")
}

func segKeys(ms []*vecindex.Manifest) string {
	var out []string
	for _, m := range ms {
		out = append(out, strings.TrimSuffix(m.Key[strings.LastIndexByte(m.Key, '/')+1:], ".json"))
	}
	return strings.Join(out, ",")
}

// The planner's rules, each case followed by a second plan over its outcome,
// which must build nothing (idempotency).
func TestPlanTier(t *testing.T) {
	a, b, c, d := planFile("a", 4000), planFile("b", 3000), planFile("c", 3000), planFile("d", 1500)
	small, noStats := planFile("small", 900), planFile("nostats", -1)
	s1 := planSeg("01A", a, b, c) // 10,000 vectors: size tier 1 (4,000-16,000)
	noKeys := planSeg("01B", a, b, c)
	noKeys.RowKeys = false
	oldFormat := planSeg("01C", a, b, c)
	oldFormat.Version = 1
	// Four small segments of size tier 0 (1,000-4,000), another in tier 2.
	t1, t2, t3, t4 := planFile("t1", 1200), planFile("t2", 2000), planFile("t3", 3000), planFile("t4", 1100)
	big := planFile("big", 20000)
	cases := []struct {
		name     string
		files    []delta.Add
		existing []*vecindex.Manifest
		// want: per build, "reason:files:replaced segments".
		want    []string
		indexed bool
	}{
		{"first build", []delta.Add{a, b}, nil, []string{"new:a,b:"}, true},
		{"first, small", []delta.Add{small}, nil, nil, false},
		{"first, no stats", []delta.Add{small, noStats}, nil, []string{"new:nostats,small:"}, true},
		{"exactly covered", []delta.Add{a, b, c}, []*vecindex.Manifest{s1}, nil, true},
		// 900 new rows: left to exact scans.
		{"few new rows", []delta.Add{a, b, c, small}, []*vecindex.Manifest{s1}, nil, true},
		// 1,500 new rows: a segment over them alone; s1 is kept.
		{"incremental", []delta.Add{a, b, c, d}, []*vecindex.Manifest{s1}, []string{"new:d:"}, true},
		{"new file without stats", []delta.Add{a, b, c, noStats}, []*vecindex.Manifest{s1}, []string{"new:nostats:"}, true},
		// c gone: 30% of s1 dead, rebuilt over a and b.
		{"dead", []delta.Add{a, b}, []*vecindex.Manifest{s1}, []string{"dead:a,b:01A"}, true},
		// The rebuild and the new files make one build.
		{"dead and new", []delta.Add{a, b, d}, []*vecindex.Manifest{s1}, []string{"dead:a,b,d:01A"}, true},
		// 15% dead: left alone.
		{"15% dead", []delta.Add{a, b, c}, []*vecindex.Manifest{planSeg("01D", a, b, c, planFile("gone", 1800))}, nil, true},
		{"no row keys", []delta.Add{a, b, c}, []*vecindex.Manifest{noKeys}, []string{"row_keys:a,b,c:01B"}, true},
		{"old format", []delta.Add{a, b, c}, []*vecindex.Manifest{oldFormat}, []string{"new:a,b,c:"}, true},
		// Three segments of size tier 0 and a fourth new one: merged, with
		// the new files, into one; big is left alone.
		{"tiered merge", []delta.Add{t1, t2, t3, t4, big},
			[]*vecindex.Manifest{planSeg("01E", t1), planSeg("01F", t2), planSeg("01G", t3), planSeg("01H", big)},
			[]string{"merge:t1,t2,t3,t4:01E,01F,01G"}, true},
		// Three in tier 0 and the new rows below MinVectors: nothing.
		{"three small", []delta.Add{t1, t2, t3, small, big},
			[]*vecindex.Manifest{planSeg("01E", t1), planSeg("01F", t2), planSeg("01G", t3), planSeg("01H", big)}, nil, true},
	}
	for _, c := range cases {
		builds, indexed := planTier(c.files, c.existing, testPlan)
		var got []string
		for _, b := range builds {
			got = append(got, fmt.Sprintf("%s:%s:%s", b.reason, paths(b.files), segKeys(b.replaces)))
		}
		if !slices.Equal(got, c.want) || indexed != c.indexed {
			t.Errorf("%s: %q indexed=%v, want %q %v", c.name, got, indexed, c.want, c.indexed)
			continue
		}
		after := apply(t, c.existing, builds)
		if again, _ := planTier(c.files, after, testPlan); len(again) != 0 {
			t.Errorf("%s: the second run plans %d builds: %+v", c.name, len(again), again[0])
		}
	}
}

// The first segment is never rebuilt for new files: each batch of new files
// gets its own segment while the old ones are kept, and merges keep the
// tier's segments few. Over many runs of random batches (some too small to
// index, some compacting older files away), every plan leaves at most
// MaxSegments segments, plans nothing right after, and re-inserts each
// vector a bounded number of times.
func TestPlanSegmentsOverManyRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(22, 3))
	var files []delta.Add
	var existing []*vecindex.Manifest
	inserted, total := 0, 0
	for run := range 200 {
		n := 1 + rng.IntN(6000)
		f := planFile(fmt.Sprintf("f%03d", run), n)
		files = append(files, f)
		total += n
		if run%10 == 9 && len(files) > 3 {
			// Compaction: two files become one of their rows.
			i := rng.IntN(len(files) - 2)
			merged := planFile(fmt.Sprintf("c%03d", run), statRows(files[i])+statRows(files[i+1]))
			files = slices.Delete(files, i, i+2)
			files = append(files, merged)
		}
		builds, _ := planTier(files, existing, testPlan)
		for _, b := range builds {
			for _, f := range b.files {
				inserted += statRows(f)
			}
			if b.reason == ReasonNew && len(b.replaces) > 0 {
				t.Fatalf("run %d: a new segment replaces %s", run, segKeys(b.replaces))
			}
		}
		existing = apply(t, existing, builds)
		live := map[string]int64{}
		for _, f := range files {
			live[f.Path] = f.Size
		}
		segs := vecindex.Segments(existing, live)
		if len(segs) > DefaultMaxSegments {
			t.Fatalf("run %d: %d segments", run, len(segs))
		}
		if again, _ := planTier(files, existing, testPlan); len(again) != 0 {
			t.Fatalf("run %d: the second run plans %d builds", run, len(again))
		}
		// Every live file is covered by one segment at most.
		seen := map[string]bool{}
		for _, m := range segs {
			for _, fr := range m.Files {
				if sz, ok := live[fr.Path]; ok && sz == fr.Size {
					if seen[fr.Path] {
						t.Fatalf("run %d: %s in two segments", run, fr.Path)
					}
					seen[fr.Path] = true
				}
			}
		}
	}
	// One index per tier rebuilt at every 10% of new rows re-inserts about
	// 10x the rows over such a history; segments a few times each.
	if amp := float64(inserted) / float64(total); amp > 6 {
		t.Fatalf("each row inserted %.1f times on average", amp)
	} else {
		t.Logf("%d rows, %d inserted (%.1fx)", total, inserted, amp)
	}
}

// The bound: more segments than MaxSegments (none sharing a size tier with
// three others) merge their smallest.
func TestPlanMergeBound(t *testing.T) {
	var files []delta.Add
	var existing []*vecindex.Manifest
	for i, n := range []int{1000, 1100, 1200, 5000, 5000, 5000, 20000, 20000, 20000, 90000} {
		f := planFile(fmt.Sprintf("s%d", i), n)
		files = append(files, f)
		existing = append(existing, planSeg(fmt.Sprintf("01%02d", i), f))
	}
	builds, _ := planTier(files, existing, testPlan)
	if len(builds) != 1 || builds[0].reason != ReasonMerge || paths(builds[0].files) != "s0,s1,s2" {
		t.Fatalf("builds %+v", builds)
	}
	after := apply(t, existing, builds)
	live := map[string]int64{}
	for _, f := range files {
		live[f.Path] = f.Size
	}
	if n := len(vecindex.Segments(after, live)); n != DefaultMaxSegments {
		t.Fatalf("%d segments after the merge", n)
	}
	if again, _ := planTier(files, after, testPlan); len(again) != 0 {
		t.Fatalf("second run: %+v", again)
	}
}
