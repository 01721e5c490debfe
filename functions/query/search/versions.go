package search

import (
	"context"
	"maps"
)

// Versions says which version of a record is its latest. The query
// function answers it with one statement over the memories view of the
// search's snapshot, where DuckDB applies latest-wins and hides what has
// expired: a search cannot decide it alone, since an older version of a
// re-sent record may be in a file no index or scan of this search reads.
type Versions interface {
	// LatestIngested returns the ingested_at (Unix micros) of the latest
	// unexpired version of the records of the systems and ids given, keyed
	// "system/id"; a record with no such version is absent.
	LatestIngested(ctx context.Context, systems, ids map[string]bool) (map[string]int64, error)
}

// VersionCheck is a row whose version the memories view decides: Admit is
// called if it is its record's latest (and unexpired) version, once per
// record.
type VersionCheck struct {
	System, ID string
	Ingested   int64
	Admit      func()
}

// AdmitLatest admits, of checks, the rows that are their record's latest
// version, one per record, asking v in chunks of 500 rows so a statement
// stays small.
func AdmitLatest(ctx context.Context, v Versions, checks []VersionCheck) error {
	latest := map[string]int64{}
	const chunk = 500
	for start := 0; start < len(checks); start += chunk {
		part := checks[start:min(start+chunk, len(checks))]
		sys, ids := map[string]bool{}, map[string]bool{}
		for _, c := range part {
			sys[c.System] = true
			ids[c.ID] = true
		}
		got, err := v.LatestIngested(ctx, sys, ids)
		if err != nil {
			return err
		}
		maps.Copy(latest, got)
	}
	seen := map[string]bool{}
	for _, c := range checks {
		k := c.System + "/" + c.ID
		if l, ok := latest[k]; ok && l == c.Ingested && !seen[k] {
			seen[k] = true
			c.Admit()
		}
	}
	return nil
}
