package vecindex

import (
	"math"
	"testing"

	"github.com/akosha/akosha/lake"
)

func TestKeysAndParseKey(t *testing.T) {
	k := KeysFor("memories", lake.Partition{Tier: "warm", Day: "2026-01-02"}, "01ABC")
	if k.Manifest != "memories/_indexes/tier=warm/01ABC.json" || k.Index != "memories/_indexes/tier=warm/01ABC.hnsw" {
		t.Fatalf("keys %+v", k)
	}
	for _, c := range []struct {
		key  string
		want lake.Partition
		old  bool
	}{
		{k.Rows, lake.Partition{Tier: "warm"}, false},
		// Indexes of the layout partitioned by system: recognised, so
		// vacuum deletes them, and flagged old, so nobody searches them.
		{"memories/_indexes/tier=hot/system_id=a/01X.json", lake.Partition{Tier: "hot"}, true},
		{"memories/_indexes/tier=hot/system_id=a/day=2026-01-02/01X.json", lake.Partition{Tier: "hot"}, true},
	} {
		if p, old, ok := ParseKey("memories", c.key); !ok || p != c.want || old != c.old {
			t.Errorf("%s: %+v old=%v ok=%v", c.key, p, old, ok)
		}
	}
	for _, bad := range []string{"memories/_indexes/x.json", "memories/_indexes/tier=/x.json", "memories/_indexes/tier=hot/", "entities/_indexes/tier=hot/x.json",
		"memories/_indexes/tier=hot/system_id=a/days=1/x.json", "memories/_indexes/tier=hot/system_id=a/day=1/x/y.json", "memories/_indexes/tier=hot/sys=a/x.json"} {
		if p, _, ok := ParseKey("memories", bad); ok {
			t.Errorf("%s parsed as %+v", bad, p)
		}
	}
}

func TestDeadFractionAndNewest(t *testing.T) {
	m := &Manifest{Version: FormatVersion, Vectors: 10, Key: "x/01B.json", Files: []FileRef{
		{Path: "a", Size: 1, Vectors: 6}, {Path: "b", Size: 2, Vectors: 4}, {Path: "c", Size: 3},
	}}
	live := map[string]int64{"a": 1, "b": 2, "c": 3}
	for _, c := range []struct {
		live   map[string]int64
		dead   float64
		usable bool
	}{
		{live, 0, true},
		{map[string]int64{"a": 1, "c": 3}, 0.4, true},
		{map[string]int64{"b": 2, "c": 3}, 0.6, false},
		{map[string]int64{"a": 1, "b": 2}, 0, true},            // a file of no vectors
		{map[string]int64{"a": 1, "b": 99, "c": 3}, 0.4, true}, // another size: another file
		{map[string]int64{}, 1, false},
	} {
		if d := m.DeadFraction(c.live); math.Abs(d-c.dead) > 1e-9 || m.Usable(c.live) != c.usable {
			t.Errorf("live %v: dead %v usable %v, want %v %v", c.live, d, m.Usable(c.live), c.dead, c.usable)
		}
	}
	// Without per-file counts (version 1), files weigh the same.
	old := &Manifest{Version: 1, Vectors: 10, Files: []FileRef{{Path: "a", Size: 1}, {Path: "b", Size: 2}}}
	if d := old.DeadFraction(map[string]int64{"a": 1}); d != 0.5 || old.Usable(live) {
		t.Errorf("version 1: dead %v, usable %v", d, old.Usable(live))
	}
	newer := &Manifest{Version: FormatVersion, Vectors: 4, Key: "x/01C.json", Files: []FileRef{{Path: "b", Size: 2, Vectors: 4}}}
	if got := Newest([]*Manifest{m, newer, old}, live); got != newer {
		t.Errorf("newest: %v", got.Key)
	}
	if got := Newest([]*Manifest{m, newer}, map[string]int64{"a": 1, "c": 3}); got != m {
		t.Errorf("newest usable: %v", got)
	}
	if got := Newest([]*Manifest{m, newer}, nil); got != nil {
		t.Errorf("nothing live: %v", got.Key)
	}
}

// PerFile counts nodes per covered file and refuses a row, node or other,
// naming a file the manifest does not have.
func TestRowsPerFile(t *testing.T) {
	r := &Rows{File: []uint32{0, 2, 2}, OtherFile: []uint32{1}}
	if got, err := r.PerFile(3); err != nil || len(got) != 3 || got[0] != 1 || got[1] != 0 || got[2] != 2 {
		t.Fatalf("PerFile(3) = %v, %v", got, err)
	}
	if _, err := r.PerFile(2); err == nil {
		t.Error("a node naming file 2 of 2 accepted")
	}
	r.OtherFile = []uint32{3}
	if _, err := r.PerFile(3); err == nil {
		t.Error("another row naming file 3 of 3 accepted")
	}
}
