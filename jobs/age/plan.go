// Package age is the aging job: it moves partitions from the hot tier to
// warm after WarmAfter days, to cold after ColdAfter, and deletes them after
// DeleteAfter (defaults 7, 90 and 2555 days, DESIGN.md "Tiers"). A move
// rewrites the partition's files into the next tier's layout (int8
// embeddings, stronger zstd, a cheaper storage class: lake.DefaultLayouts)
// and commits removes and adds together, so a reader sees the partition in
// one tier or the other, never both and never neither. Versions of a record
// re-sent within the moved files collapse to the latest, as in compaction.
//
// Like compaction, a move whose inputs another commit removed meanwhile
// aborts and deletes its outputs; the run reserves the partition from
// compaction (lake.Table.Reserve), plans it again on a fresh snapshot and
// retries, up to Options.Retry tries.
package age

import (
	"fmt"
	"sort"
	"time"

	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/schemas"
)

// Policy says when data changes tier, in whole days of age.
type Policy struct {
	WarmAfter   int // hot -> warm
	ColdAfter   int // warm -> cold
	DeleteAfter int // cold -> deleted
}

// DefaultPolicy is DESIGN.md's: 7 days hot, 90 warm, 7 years in all.
var DefaultPolicy = Policy{WarmAfter: 7, ColdAfter: 90, DeleteAfter: 2555}

// Validate refuses a policy whose steps are not in order.
func (p Policy) Validate() error {
	if p.WarmAfter <= 0 || p.ColdAfter <= p.WarmAfter || p.DeleteAfter <= p.ColdAfter {
		return fmt.Errorf("age policy %d/%d/%d days: want 0 < warm < cold < delete", p.WarmAfter, p.ColdAfter, p.DeleteAfter)
	}
	return nil
}

// Age is how old the newest possible record of a partition of day day is,
// in whole days at now: a partition's records were created during its day,
// so the age counts from the day's end. A day that does not parse is
// reported as age -1 (never moved).
func Age(day string, now time.Time) int {
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return -1
	}
	end := d.AddDate(0, 0, 1)
	if now.Before(end) {
		return 0
	}
	return int(now.Sub(end) / (24 * time.Hour))
}

// Target is the tier a partition of day belongs in at now, or "" when it
// is past retention and must be deleted.
func (p Policy) Target(day string, now time.Time) string {
	age := Age(day, now)
	switch {
	case age < 0 || age < p.WarmAfter:
		return schemas.TierHot
	case age < p.ColdAfter:
		return schemas.TierWarm
	case age < p.DeleteAfter:
		return schemas.TierCold
	}
	return ""
}

// tierRank orders the tiers: data only ever moves to a higher rank.
var tierRank = map[string]int{schemas.TierHot: 0, schemas.TierWarm: 1, schemas.TierCold: 2}

// FileInfo is what the planner knows of a live data file.
type FileInfo struct {
	Path      string // as in the log
	Partition lake.Partition
	Size      int64
	Rows      int64 // -1 when unknown
}

// Move is one commit: files of one partition rewritten into tier To, or
// deleted when Delete is set.
type Move struct {
	From   lake.Partition
	To     string // the target tier; "" with Delete
	Delete bool
	Files  []FileInfo // in path order
	Size   int64
	Rows   int64 // -1 when some file's count is unknown
}

// Kind names a move for reports: "hot->warm", "warm->cold", "delete".
func (m Move) Kind() string {
	if m.Delete {
		return "delete"
	}
	return m.From.Tier + "->" + m.To
}

// Plan lists the moves that bring files to the tiers policy gives them at
// now. It is a pure function of its input:
//
//   - a partition moves only forward (hot -> warm -> cold), possibly
//     skipping a tier, and never back: a record re-sent with an old
//     created_at lands in hot and is moved again by the next run;
//   - partitions past DeleteAfter are deleted, whatever their tier;
//   - files of unknown tiers or unparsable days are left alone;
//   - a partition's files are taken in path order (write order) and split
//     into moves of at most maxBytes of input (one file larger than that is
//     a move of its own), which bounds the memory of one rewrite;
//   - moves are ordered by partition, then by first path.
func Plan(files []FileInfo, now time.Time, policy Policy, maxBytes int64) []Move {
	byPart := map[lake.Partition][]FileInfo{}
	for _, f := range files {
		rank, known := tierRank[f.Partition.Tier]
		if !known || Age(f.Partition.Day, now) < 0 {
			continue
		}
		to := policy.Target(f.Partition.Day, now)
		if to != "" && tierRank[to] <= rank {
			continue
		}
		byPart[f.Partition] = append(byPart[f.Partition], f)
	}
	parts := make([]lake.Partition, 0, len(byPart))
	for p := range byPart {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].String() < parts[j].String() })
	var out []Move
	for _, p := range parts {
		fs := byPart[p]
		sort.Slice(fs, func(i, j int) bool { return fs[i].Path < fs[j].Path })
		to := policy.Target(p.Day, now)
		cur := Move{From: p, To: to, Delete: to == ""}
		for _, f := range fs {
			if len(cur.Files) > 0 && maxBytes > 0 && cur.Size+f.Size > maxBytes {
				out = append(out, cur)
				cur = Move{From: p, To: to, Delete: to == ""}
			}
			switch {
			case len(cur.Files) == 0:
				cur.Rows = f.Rows
			case cur.Rows < 0 || f.Rows < 0:
				cur.Rows = -1
			default:
				cur.Rows += f.Rows
			}
			cur.Files = append(cur.Files, f)
			cur.Size += f.Size
		}
		out = append(out, cur)
	}
	return out
}
