package vecindex

import (
	"math"
	"path"
	"slices"
	"strings"
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

func TestDeadFraction(t *testing.T) {
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
}

// Segments: usable indexes, newest first, no two sharing a live file.
func TestSegments(t *testing.T) {
	seg := func(id string, files ...string) *Manifest {
		m := &Manifest{Version: FormatVersion, Key: "memories/_indexes/tier=hot/" + id + ".json"}
		for _, f := range files {
			m.Files = append(m.Files, FileRef{Path: f, Size: 1, Vectors: 10})
			m.Vectors += 10
		}
		return m
	}
	live := func(files ...string) map[string]int64 {
		out := map[string]int64{}
		for _, f := range files {
			out[f] = 1
		}
		return out
	}
	a, b, c := seg("01A", "a1", "a2"), seg("01B", "b1"), seg("01C", "c1", "c2", "c3")
	merged := seg("01D", "a1", "a2", "b1") // a and b merged
	partial := seg("01E", "a2", "x")       // shares a2 with a and merged
	oldFormat := seg("01F", "f1")
	oldFormat.Version = 1
	cases := []struct {
		name string
		ms   []*Manifest
		live map[string]int64
		want []string // base names, newest first
	}{
		{"none", nil, live("a1"), nil},
		{"disjoint segments", []*Manifest{a, c, b}, live("a1", "a2", "b1", "c1", "c2", "c3"), []string{"01C", "01B", "01A"}},
		// The merge supersedes the segments it merged.
		{"merged", []*Manifest{a, b, c, merged}, live("a1", "a2", "b1", "c1", "c2", "c3"), []string{"01D", "01C"}},
		// A newer index sharing one live file wins it; the older is
		// skipped whole (its other files are scanned exactly).
		{"partial overlap", []*Manifest{a, partial}, live("a1", "a2", "x"), []string{"01E"}},
		// Shared only through a dead file: both are searched.
		{"shared dead file", []*Manifest{seg("01K", "k1", "k2", "k3"), seg("01L", "k3", "l1", "l2")}, live("k1", "k2", "l1", "l2"), []string{"01L", "01K"}},
		// The newest is unusable (all dead): the older ones are searched.
		{"unusable newest", []*Manifest{a, b, seg("01G", "gone1", "gone2")}, live("a1", "a2", "b1"), []string{"01B", "01A"}},
		// A file of another size is another file: no overlap.
		{"other size", []*Manifest{b, func() *Manifest { m := seg("01H", "b1", "h", "h2"); m.Files[0].Size = 2; return m }()}, live("b1", "h", "h2"), []string{"01H", "01B"}},
		{"old format", []*Manifest{oldFormat, b}, live("f1", "b1"), []string{"01B"}},
		// A chain: partial wins a2 and x; merged shares a2 and is skipped,
		// so it blocks nothing; b is chosen again; a shares a2, skipped.
		{"chain", []*Manifest{a, b, merged, partial}, live("a1", "a2", "b1", "x"), []string{"01E", "01B"}},
	}
	for _, c := range cases {
		var got []string
		for _, m := range Segments(c.ms, c.live) {
			got = append(got, strings.TrimSuffix(path.Base(m.Key), ".json"))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	// Removing an index that is not chosen changes nothing else.
	all := []*Manifest{a, b, c, merged, partial}
	l := live("a1", "a2", "b1", "c1", "c2", "c3", "x")
	chosen := Segments(all, l)
	for i, m := range all {
		if slices.Contains(chosen, m) {
			continue
		}
		rest := slices.Delete(slices.Clone(all), i, i+1)
		if got := Segments(rest, l); !slices.Equal(got, chosen) {
			t.Errorf("without %s: %d chosen, want %d", m.Key, len(got), len(chosen))
		}
	}
	if got := merged.LiveVectors(live("a1", "b1")); got != 20 {
		t.Errorf("live vectors %d, want 20", got)
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
