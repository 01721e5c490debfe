package query

import (
	"time"

	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
)

// Prune says which files of a view a statement can need. The zero value
// keeps every file. Each field narrows: a file is kept only if it matches
// every constraint that is set.
type Prune struct {
	SystemIDs map[string]bool // exact system_id values; nil = any
	Tiers     map[string]bool // exact tier values; nil = any
	DayFrom   string          // inclusive YYYY-MM-DD; "" = unbounded
	DayTo     string          // inclusive
	// CreatedFrom / CreatedTo bound created_at (inclusive); the files' stats
	// (min/max created_at) prune those that cannot overlap.
	CreatedFrom, CreatedTo time.Time
}

// All reports whether p keeps every file.
func (p Prune) All() bool {
	return p.SystemIDs == nil && p.Tiers == nil && p.DayFrom == "" && p.DayTo == "" &&
		p.CreatedFrom.IsZero() && p.CreatedTo.IsZero()
}

// Keep reports whether a file can hold rows the statement needs.
func (p Prune) Keep(f delta.Add) bool {
	if p.All() {
		return true
	}
	part, err := lake.PartitionOf(f.PartitionValues)
	if err != nil {
		return true // not ours to judge: read it
	}
	// system_id is not a partition: a file's statistics bound the systems
	// it holds (files are sorted by system, so the bounds are tight).
	if !lake.MayHoldAny(f, p.SystemIDs) {
		return false
	}
	if p.Tiers != nil && !p.Tiers[part.Tier] {
		return false
	}
	if p.DayFrom != "" && part.Day < p.DayFrom {
		return false
	}
	if p.DayTo != "" && part.Day > p.DayTo {
		return false
	}
	if p.CreatedFrom.IsZero() && p.CreatedTo.IsZero() {
		return true
	}
	// created_at bounds also bound the day partition.
	if !p.CreatedFrom.IsZero() && part.Day < p.CreatedFrom.UTC().Format(time.DateOnly) {
		return false
	}
	if !p.CreatedTo.IsZero() && part.Day > p.CreatedTo.UTC().Format(time.DateOnly) {
		return false
	}
	st, err := f.ParsedStats()
	if err != nil {
		return true
	}
	lo, okLo := statTime(st.MinValues["created_at"])
	hi, okHi := statTime(st.MaxValues["created_at"])
	// A max is recorded to the millisecond, cut down: the file may hold
	// rows up to a millisecond later.
	if okHi && !p.CreatedFrom.IsZero() && !hi.Add(time.Millisecond).After(p.CreatedFrom) {
		return false
	}
	if okLo && !p.CreatedTo.IsZero() && lo.After(p.CreatedTo) {
		return false
	}
	return true
}

func statTime(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}
