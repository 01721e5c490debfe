package search

import (
	"sort"

	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/vecindex"
	"github.com/akosha/akosha/schemas"
)

// File is a live data file a search reads.
type File struct {
	Key       string
	Size      int64
	Partition lake.Partition
	// Expiring: some of the file's rows may have expired at the search's
	// now; its candidates are checked against the memories view, which
	// hides expired records (issue 16).
	Expiring bool
}

// Part is one source of candidates of a tier: one of its index
// segments, or the kept files no segment covers, to scan exactly.
type Part struct {
	Tier  lake.Partition // Day ""
	Index *vecindex.Manifest
	// Files are the index's files, in manifest order; nil for a file that
	// is not live (its rows are skipped) or that pruning dropped (none of
	// its rows can match the filter).
	Files []*File
	// Learn names, in manifest order, the index's live files whose keys the
	// key index learns from its rows ("" for the others); nil unless the
	// index has vecindex.Manifest.RowKeys.
	Learn []string
	Dead  float64    // the index's dead fraction on this snapshot
	Keys  KeyLearner // the snapshot's key index, which learns from the index's rows
	Scan  []*File    // the kept files no segment covers, scanned exactly
}

// IndexKey is the key of the part's index manifest, or "" for the exact
// scans (first among a tier's parts).
func (pp *Part) IndexKey() string {
	if pp.Index == nil {
		return ""
	}
	return pp.Index.Key
}

// Plan chooses what a search of p reads on snap: per tier, the index
// segments that cover a kept file, and the kept files none covers, to scan
// exactly (vectors.go says the whole path). keep is
// the created_at statistics test of a file (the function's file pruning,
// which SQL shares).
func (s *State) Plan(snap *delta.Snapshot, p *Params, keep func(delta.Add) bool) []*Part {
	type acc struct {
		live map[string]int64
		adds map[string]delta.Add
		kept []string
	}
	parts := map[lake.Partition]*acc{} // by tier
	dayFrom, dayTo := "", ""
	if !p.FromT.IsZero() {
		dayFrom = schemas.Day(p.FromT)
	}
	if !p.ToT.IsZero() {
		dayTo = schemas.Day(p.ToT)
	}
	for a := range snap.AllFiles() {
		part, err := lake.PartitionOf(a.PartitionValues)
		if err != nil {
			continue
		}
		if p.Tiers != nil && !p.Tiers[part.Tier] {
			continue
		}
		// Every live file of the tier counts for the index's dead
		// fraction; only the files the filter can match are searched.
		g := vecindex.Group(part)
		ac := parts[g]
		if ac == nil {
			ac = &acc{live: map[string]int64{}, adds: map[string]delta.Add{}}
			parts[g] = ac
		}
		ac.live[a.Path] = a.Size
		ac.adds[a.Path] = a
		if (dayFrom == "" || part.Day >= dayFrom) && (dayTo == "" || part.Day <= dayTo) &&
			lake.MayHoldAny(a, p.Systems) && keep(a) {
			ac.kept = append(ac.kept, a.Path)
		}
	}
	var out []*Part
	for part, ac := range parts {
		if len(ac.kept) == 0 {
			continue
		}
		data := func(path string) *File {
			fp, _ := lake.PartitionOf(ac.adds[path].PartitionValues) // parsed above
			return &File{Key: schemas.TableMemories + "/" + path, Size: ac.live[path], Partition: fp,
				Expiring: lake.ExpiryOf(ac.adds[path]).MayHaveExpired(p.Now)}
		}
		kept := make(map[string]bool, len(ac.kept))
		for _, path := range ac.kept {
			kept[path] = true
		}
		// Each segment of the tier (vecindex.Segments: disjoint, so no
		// file is searched twice) that covers a kept file is one planned
		// part; the kept files no segment covers are scanned exactly.
		covered := map[string]bool{}
		for _, m := range s.Segments(part, ac.live) {
			pp := &Part{Tier: part}
			used := false
			pp.Files = make([]*File, len(m.Files))
			if m.RowKeys {
				pp.Learn = make([]string, len(m.Files))
			}
			var mine []string
			for i, fr := range m.Files {
				if sz, ok := ac.live[fr.Path]; ok && sz == fr.Size {
					mine = append(mine, fr.Path)
					if pp.Learn != nil {
						pp.Learn[i] = schemas.TableMemories + "/" + fr.Path
					}
					if kept[fr.Path] {
						pp.Files[i], used = data(fr.Path), true
					}
				}
			}
			if !used {
				continue // none of its live files can match
			}
			for _, path := range mine {
				covered[path] = true
			}
			pp.Index, pp.Dead = m, m.DeadFraction(ac.live)
			out = append(out, pp)
		}
		pp := &Part{Tier: part}
		for _, path := range ac.kept {
			if !covered[path] {
				pp.Scan = append(pp.Scan, data(path))
			}
		}
		if len(pp.Scan) > 0 {
			out = append(out, pp)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := out[i].Tier.String(), out[j].Tier.String(); a != b {
			return a < b
		}
		return out[i].IndexKey() < out[j].IndexKey()
	})
	return out
}

// KeyLearner is the snapshot's key index (which live files share a record
// key), which the query function keeps since SQL reads it too: told the
// keys of the files an index covers as the index's rows load, it need not
// read them from the files.
type KeyLearner interface {
	LearnIndexed(fileKeys []string, rows *vecindex.Rows)
}
