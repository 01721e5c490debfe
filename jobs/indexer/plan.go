package indexer

import (
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/vecindex"
)

// build is one segment the planner asks for: an HNSW index over files, all
// live files of one tier.
type build struct {
	reason string
	files  []delta.Add // sorted by path
	// replaces are the segments the new one supersedes (it covers all of
	// their live files): merged, or rebuilt for their dead vectors or
	// their missing row keys.
	replaces []*vecindex.Manifest
	// rows is the planner's estimate of its vectors: the segments' live
	// vectors plus the new files' row counts; -1 when a new file has no
	// statistics.
	rows int64
}

// planConfig is what planTier decides by.
type planConfig struct {
	minVectors  int // a new segment needs this many rows in uncovered files
	maxSegments int // a tier holds at most this many segments
	mergeFactor int // size tiers are this factor apart; this many in one tier merge
}

// unit is a segment in the planner's simulation: an existing one kept
// as it is, or one to build (new files, rebuilt and merged segments).
type unit struct {
	segs    []*vecindex.Manifest
	files   []delta.Add
	size    int64 // vectors, or an upper bound of them
	unknown bool  // some new file has no statistics
	fresh   bool  // holds files no segment covers
	merged  bool  // made by merging units
	reason  string
}

// planTier decides the builds of one tier from its live files (with their
// Delta statistics) and its existing indexes. It reads nothing, so it is
// tested on its own; see the package comment for the rules.
//
// It returns nil when the tier's segments are good enough, and reports
// whether the tier holds segments at all (false: left to exact scans).
func planTier(files []delta.Add, existing []*vecindex.Manifest, cfg planConfig) (builds []build, indexed bool) {
	live := make(map[string]int64, len(files))
	byPath := make(map[string]delta.Add, len(files))
	for _, a := range files {
		live[a.Path] = a.Size
		byPath[a.Path] = a
	}
	segs := vecindex.Segments(existing, live)
	// pending gathers what must be built in any case: the files no
	// segment covers, and the segments to rebuild.
	pending := &unit{fresh: true}
	var units []*unit
	covered := map[string]bool{}
	for _, m := range segs {
		u := &unit{segs: []*vecindex.Manifest{m}, size: m.LiveVectors(live)}
		for _, f := range m.Files {
			if sz, ok := live[f.Path]; ok && sz == f.Size {
				covered[f.Path] = true
				u.files = append(u.files, byPath[f.Path])
			}
		}
		switch {
		case m.DeadFraction(live) > RebuildDead:
			// Searches walk past its dead nodes, and the files that
			// replaced them are scanned exactly.
			pending.absorb(u, ReasonDead)
		case !m.RowKeys:
			// Without every row's key, a cold reader reads each covered
			// file's id column before it can answer (vecindex, "Record
			// keys"): one rebuild saves every cold search after it.
			pending.absorb(u, ReasonRowKeys)
		default:
			units = append(units, u)
		}
	}
	var newFiles []delta.Add
	for _, a := range files {
		if covered[a.Path] {
			continue
		}
		newFiles = append(newFiles, a)
		if n := rowsOf(a); n >= 0 {
			pending.size += n
		} else {
			pending.unknown = true // no statistics: assume the worst
		}
	}
	pending.files = append(pending.files, newFiles...)
	// New files are left to exact scans while they are few; rebuilds are
	// due whatever their size.
	if len(pending.segs) > 0 || len(newFiles) > 0 && (pending.unknown || pending.size >= int64(cfg.minVectors)) {
		if pending.reason == "" {
			pending.reason = ReasonNew
		}
		units = append(units, pending)
	}
	units = mergeUnits(units, cfg)
	for _, u := range units {
		if !u.fresh && !u.merged {
			continue // an existing segment, kept
		}
		b := build{reason: u.reason, files: slices.Clone(u.files), replaces: u.segs, rows: u.size}
		if u.merged {
			b.reason = ReasonMerge
		}
		if u.unknown {
			b.rows = -1
		}
		sort.Slice(b.files, func(i, j int) bool { return b.files[i].Path < b.files[j].Path })
		builds = append(builds, b)
	}
	// Stable order: by the first file.
	sort.Slice(builds, func(i, j int) bool {
		return strings.Compare(firstPath(builds[i].files), firstPath(builds[j].files)) < 0
	})
	return builds, len(segs) > 0 || len(builds) > 0
}

func firstPath(files []delta.Add) string {
	if len(files) == 0 {
		return ""
	}
	return files[0].Path
}

// absorb folds u (a segment to rebuild) into the pending build.
func (p *unit) absorb(u *unit, reason string) {
	p.segs = append(p.segs, u.segs...)
	p.files = append(p.files, u.files...)
	p.size += u.size
	if p.reason == "" {
		p.reason = reason
	}
}

// mergeUnits applies the merge rules until neither applies:
//
//   - size tiers: a unit of size s is in tier floor(log_f(s / minVectors))
//     (f = mergeFactor, tier 0 below f x minVectors); when f units share
//     a tier they are merged into one, of about f times their size, in a
//     higher tier. Every vector is thus re-inserted about
//     log_f(tier vectors / minVectors) times over its life, not at every
//     build as with one index per tier.
//   - a bound: while the tier holds more than maxSegments units, the
//     smallest are merged into one, so that it holds maxSegments.
//
// Each merge lowers the number of units, so the loop ends; its result is
// a state neither rule changes, so the next run merges nothing.
func mergeUnits(units []*unit, cfg planConfig) []*unit {
	base := int64(max(cfg.minVectors, 1))
	f := int64(max(cfg.mergeFactor, 2))
	tierOf := func(size int64) int {
		t := 0
		for s := base * f; size >= s && s < math.MaxInt64/f; s *= f {
			t++
		}
		return t
	}
	for {
		sort.SliceStable(units, func(i, j int) bool { return units[i].size < units[j].size })
		byTier := map[int][]int{}
		var full []int
		for i, u := range units {
			t := tierOf(u.size)
			byTier[t] = append(byTier[t], i)
			if len(byTier[t]) == int(f) {
				full = append(full, t)
			}
		}
		switch {
		case len(full) > 0:
			slices.Sort(full)
			units = mergeAt(units, byTier[full[0]])
		case len(units) > max(cfg.maxSegments, 1):
			n := len(units) - max(cfg.maxSegments, 1) + 1
			idx := make([]int, n)
			for i := range idx {
				idx[i] = i // the smallest: units are sorted by size
			}
			units = mergeAt(units, idx)
		default:
			return units
		}
	}
}

// mergeAt replaces the units at idx by one that holds them all.
func mergeAt(units []*unit, idx []int) []*unit {
	m := &unit{merged: true}
	drop := map[int]bool{}
	for _, i := range idx {
		u := units[i]
		drop[i] = true
		m.segs = append(m.segs, u.segs...)
		m.files = append(m.files, u.files...)
		m.size += u.size
		m.unknown = m.unknown || u.unknown
		m.fresh = m.fresh || u.fresh
	}
	out := []*unit{m}
	for i, u := range units {
		if !drop[i] {
			out = append(out, u)
		}
	}
	return out
}

// rowsOf is a file's row count from its Delta statistics, or -1.
func rowsOf(a delta.Add) int64 {
	if st, err := a.ParsedStats(); err == nil && st.NumRecords >= 0 {
		return st.NumRecords
	}
	return -1
}
