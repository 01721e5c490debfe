// Package compact is the compaction job: it merges the small data files that
// ingest leaves behind (one per partition per commit) into files of about a
// target size, and collapses the versions of a re-sent record (same
// system_id and id within a partition) to the latest, the greatest
// ingested_at. Each merge is one Delta commit that removes the inputs and adds
// the outputs, so readers see either the old files or the new ones, never
// both and never neither (dataChange=false only when no version was
// dropped: the same rows in new files).
//
// Scope: a merge collapses versions within the files of its group, which
// are all in one partition (one system and day). A record re-sent with a
// created_at on another day lands in another partition: after the merges,
// a run's dedupe pass (dedupe.go) removes such superseded versions across
// partitions and tiers, so the table itself is latest-wins for every
// engine that reads the log.
package compact

import (
	"sort"
)

// DefaultTargetSize is the size compaction aims for (and never exceeds by
// plan): large enough that a partition's scan is a few files, small enough
// that one group fits in a job's memory.
const DefaultTargetSize int64 = 128 << 20

// FileInfo is what the planner knows of a live data file.
type FileInfo struct {
	Path      string // as in the log (relative to the table root)
	Partition string // partition identity, e.g. "tier=hot/system_id=a/day=2025-01-02"
	Size      int64  // bytes
	Rows      int64  // -1 when unknown
	Encoding  string // lake.EncodingOf its add: "" float32, "int8"
}

// PlanOptions tune the planner.
type PlanOptions struct {
	// TargetSize bounds a group's input bytes (default DefaultTargetSize).
	TargetSize int64
	// MinFiles is the fewest files worth merging (default 2).
	MinFiles int
}

func (o PlanOptions) withDefaults() PlanOptions {
	if o.TargetSize <= 0 {
		o.TargetSize = DefaultTargetSize
	}
	if o.MinFiles < 2 {
		o.MinFiles = 2
	}
	return o
}

// Group is one merge: small files of one partition whose sizes add up to at
// most the target.
type Group struct {
	Partition string
	Encoding  string     // of every file in the group
	Files     []FileInfo // in path order
	Size      int64
	Rows      int64 // -1 when some file's count is unknown
}

// Plan groups files for compaction. It is a pure function of its input:
//
//   - only files of one partition and one encoding are merged together (a
//     partition holds one encoding unless the tiers' layouts changed);
//   - files already at or above the target size are left alone (a partition
//     holding only such a file, or one small file, yields nothing);
//   - within a partition the small files are taken in path order (the lake's
//     file names are ULIDs, so that is write order) and packed greedily into
//     groups of at most TargetSize bytes; a group of fewer than MinFiles files
//     is dropped, as merging it would gain nothing;
//   - groups are ordered by partition, then by first path.
func Plan(files []FileInfo, opts PlanOptions) []Group {
	opts = opts.withDefaults()
	type key struct{ partition, encoding string }
	byPart := map[key][]FileInfo{}
	for _, f := range files {
		if f.Size >= opts.TargetSize {
			continue
		}
		k := key{f.Partition, f.Encoding}
		byPart[k] = append(byPart[k], f)
	}
	parts := make([]key, 0, len(byPart))
	for p := range byPart {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool {
		if parts[i].partition != parts[j].partition {
			return parts[i].partition < parts[j].partition
		}
		return parts[i].encoding < parts[j].encoding
	})
	var out []Group
	for _, p := range parts {
		fs := byPart[p]
		if len(fs) < opts.MinFiles {
			continue
		}
		sort.Slice(fs, func(i, j int) bool { return fs[i].Path < fs[j].Path })
		cur := Group{Partition: p.partition, Encoding: p.encoding}
		flush := func() {
			if len(cur.Files) >= opts.MinFiles {
				out = append(out, cur)
			}
			cur = Group{Partition: p.partition, Encoding: p.encoding}
		}
		for _, f := range fs {
			if len(cur.Files) > 0 && cur.Size+f.Size > opts.TargetSize {
				flush()
			}
			cur.Files = append(cur.Files, f)
			cur.Size += f.Size
			switch {
			case len(cur.Files) == 1:
				cur.Rows = f.Rows
			case cur.Rows < 0 || f.Rows < 0:
				cur.Rows = -1
			default:
				cur.Rows += f.Rows
			}
		}
		flush()
	}
	return out
}
