package query

import (
	"slices"
	"strings"
	"time"

	"github.com/akosha/akosha/functions/query/sqlexec"
	"github.com/akosha/akosha/schemas"
)

// scansByView turns the statement's scans into one list of prunes per view
// it reads: a file is needed when any of them keeps it.
func scansByView(scans []sqlexec.Scan) map[string][]Prune {
	out := map[string][]Prune{}
	for _, s := range scans {
		out[s.View] = append(out[s.View], pruneOf(s.Predicates))
	}
	return out
}

// pruneOf reads the predicates that bound partitions or created_at; others
// are left to DuckDB. Strict bounds (>, <) are widened to inclusive ones:
// pruning may keep a file too many, never one too few.
func pruneOf(preds []sqlexec.Predicate) Prune {
	var p Prune
	for _, pr := range preds {
		switch pr.Column {
		case "system_id", "tier":
			if pr.Op != "=" && pr.Op != "in" {
				continue
			}
			set := map[string]bool{}
			for _, v := range pr.Values {
				set[v] = true
			}
			if pr.Column == "system_id" {
				p.SystemIDs = intersect(p.SystemIDs, set)
			} else {
				p.Tiers = intersect(p.Tiers, set)
			}
		case "day":
			days := make([]string, 0, len(pr.Values))
			for _, v := range pr.Values {
				d, err := time.Parse(time.DateOnly, strings.TrimSpace(v))
				if err != nil {
					days = nil
					break
				}
				days = append(days, d.Format(time.DateOnly))
			}
			if len(days) == 0 {
				continue
			}
			lo, hi := slices.Min(days), slices.Max(days)
			switch pr.Op {
			case "=", "in":
				p.DayFrom, p.DayTo = maxStr(p.DayFrom, lo), minStr(p.DayTo, hi)
			case ">=", ">":
				p.DayFrom = maxStr(p.DayFrom, lo)
			case "<=", "<":
				p.DayTo = minStr(p.DayTo, hi)
			}
		case "created_at":
			if len(pr.Values) != 1 {
				continue
			}
			t, err := schemas.ParseTime(strings.TrimSpace(pr.Values[0]))
			if err != nil {
				if d, derr := time.Parse(time.DateOnly, strings.TrimSpace(pr.Values[0])); derr == nil {
					t = d
				} else {
					continue
				}
			}
			switch pr.Op {
			case ">=", ">":
				if t.After(p.CreatedFrom) {
					p.CreatedFrom = t
				}
			case "<=", "<":
				if p.CreatedTo.IsZero() || t.Before(p.CreatedTo) {
					p.CreatedTo = t
				}
			case "=":
				p.CreatedFrom, p.CreatedTo = t, t
			}
		}
	}
	return p
}

func intersect(a, b map[string]bool) map[string]bool {
	if a == nil {
		return b
	}
	out := map[string]bool{}
	for k := range a {
		if b[k] {
			out[k] = true
		}
	}
	return out
}

func maxStr(a, b string) string {
	if a == "" || b > a {
		return b
	}
	return a
}

func minStr(a, b string) string {
	if a == "" || b < a {
		return b
	}
	return a
}
