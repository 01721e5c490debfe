package indexer

import (
	"fmt"
	"testing"

	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/vecindex"
)

// The rebuild rule on its own: which (tier, system) gets a new index, and
// why, from its live files' row counts and its existing indexes.
func TestPlanRebuildRule(t *testing.T) {
	file := func(name string, rows int) delta.Add {
		a := delta.Add{Path: "tier=hot/system_id=s/day=2026-01-0" + name + "/" + name + ".parquet", Size: int64(100 + rows)}
		if rows >= 0 {
			a.Stats = fmt.Sprintf(`{"numRecords":%d}`, rows)
		}
		return a
	}
	index := func(id string, files ...delta.Add) *vecindex.Manifest {
		m := &vecindex.Manifest{Version: vecindex.FormatVersion, Dim: vecindex.Dim, Key: "memories/_indexes/tier=hot/system_id=s/" + id + ".json", RowKeys: true}
		for _, f := range files {
			var n int
			fmt.Sscanf(f.Stats, `{"numRecords":%d}`, &n)
			m.Files = append(m.Files, vecindex.FileRef{Path: f.Path, Size: f.Size, Vectors: n})
			m.Vectors += n
		}
		return m
	}
	a, b, c, d := file("1", 4000), file("2", 3000), file("3", 3000), file("4", 1500)
	small := file("5", 900)
	noStats := file("6", -1)
	idx := index("01B", a, b, c) // 10,000 vectors over three days
	cases := []struct {
		name     string
		files    []delta.Add
		existing []*vecindex.Manifest
		want     string
		upper    int64
	}{
		{"no index", []delta.Add{a, b}, nil, ReasonNew, 7000},
		{"no index, small", []delta.Add{small}, nil, ReasonNew, 900},
		{"no index, no stats", []delta.Add{a, noStats}, nil, ReasonNew, -1},
		{"exactly covered", []delta.Add{a, b, c}, []*vecindex.Manifest{idx}, "", 10000},
		// 900 new rows: under max(1000, 10% of 10,000).
		{"few new rows", []delta.Add{a, b, c, small}, []*vecindex.Manifest{idx}, "", 10900},
		// 1,500 new rows: over it.
		{"many new rows", []delta.Add{a, b, c, d}, []*vecindex.Manifest{idx}, ReasonUncovered, 11500},
		{"new file without stats", []delta.Add{a, b, c, noStats}, []*vecindex.Manifest{idx}, ReasonUncovered, -1},
		// b compacted into b2: 30% of the vectors dead (> 20%), still usable.
		{"30% dead", []delta.Add{a, c, file("7", 3000)}, []*vecindex.Manifest{idx}, ReasonUncovered, 10000},
		// c gone, nothing new: 30% dead.
		{"30% dead, nothing new", []delta.Add{a, b}, []*vecindex.Manifest{idx}, ReasonDead, 7000},
		// 15% dead (a share of 1,500 of 10,000 in a dead file): left alone.
		{"15% dead", []delta.Add{a, b, d}, []*vecindex.Manifest{index("01C", a, b, d, file("8", 1500))}, "", 8500},
		// a and b gone: 70% dead, unusable, so there is no index.
		{"unusable", []delta.Add{c}, []*vecindex.Manifest{idx}, ReasonNew, 3000},
		// The newest usable index decides: 01D covers d too.
		{"newest wins", []delta.Add{a, b, c, d}, []*vecindex.Manifest{idx, index("01D", a, b, c, d)}, "", 11500},
		// Version 1 indexes are not used.
		// Built before row keys: rebuilt once, even when otherwise current.
		{"no row keys", []delta.Add{a, b, c}, []*vecindex.Manifest{func() *vecindex.Manifest { m := index("01F", a, b, c); m.RowKeys = false; return m }()}, ReasonRowKeys, 10000},
		{"old format", []delta.Add{a, b, c}, []*vecindex.Manifest{func() *vecindex.Manifest { m := index("01E", a, b, c); m.Version = 1; return m }()}, ReasonNew, 10000},
	}
	for _, c := range cases {
		got, upper := plan(c.files, c.existing, DefaultMinVectors)
		if got != c.want || upper != c.upper {
			t.Errorf("%s: %q (%d rows), want %q (%d)", c.name, got, upper, c.want, c.upper)
		}
	}
}
