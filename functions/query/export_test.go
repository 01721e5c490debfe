package query

import (
	"context"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// SearchStatsOf exposes how a search was answered, for tests.
func SearchStatsOf(r *SearchResponse) (indexSearches, indexExact, fileScans, dropped int, indexKeys []string) {
	s := r.stats
	return s.IndexSearches, s.IndexExact, s.FileScans, s.Dropped, s.IndexKeys
}

// TextStatsOf says how a text or hybrid search ranked by text: the
// full-text segments searched and the data files scored exactly.
func TextStatsOf(r *SearchResponse) (segments, exactFiles int) {
	return r.stats.TextSegments, r.stats.TextFiles
}

// TextStoredOf is how many full-text segments a text or hybrid search
// admitted whole, and so scored with their stored statistics.
func TextStoredOf(r *SearchResponse) int { return r.stats.TextStored }

// KeptFooters are the keys of the data files whose parsed footers f keeps
// for search hits, and CachedKeys those its NVMe cache holds.
func KeptFooters(f *Function) []string { return f.footers.Keys() }
func CachedKeys(f *Function) []string  { return f.cache.Keys() }

// AnswersComputed counts the kept answers (GET /v1/systems) f computed, by
// who asked: "request" or "warm".
func AnswersComputed(f *Function, who string) int {
	f.answers.mu.Lock()
	defer f.answers.mu.Unlock()
	return f.answers.computed[who]
}

// SystemsKept reports whether f keeps the fleet-wide GET /v1/systems answer
// of its current snapshots.
func SystemsKept(f *Function) bool {
	snaps := f.snapshots()
	key, err := f.answers.keyOf(context.Background(), snaps, "")
	return err == nil && f.answers.kept("systems|", key) != nil
}

// SystemsKeptFor reports whether f keeps the GET /v1/systems answer of its
// current snapshots for tenant's current scope.
func SystemsKeptFor(f *Function, tenant string) bool {
	snaps := f.snapshots()
	key, err := f.answers.keyOf(context.Background(), snaps, "")
	sc := f.lake.Tenants().Current().ScopeOf(tenant, false)
	return err == nil && f.answers.kept("systems|"+sc.Key(), key) != nil
}

// AnswersWarmerStopped reports whether f's answer warmer has ended (true
// when it never ran).
func AnswersWarmerStopped(f *Function) bool {
	if f.answersDone == nil {
		return true
	}
	select {
	case <-f.answersDone:
		return true
	default:
		return false
	}
}

// ConfinedFiles is how many data files tenant-confined statements read
// whole (only the tenant's systems) and row by row.
func ConfinedFiles(f *Function) (whole, rowTest float64) {
	return testutil.ToFloat64(f.metrics.confinedFiles.WithLabelValues("whole")),
		testutil.ToFloat64(f.metrics.confinedFiles.WithLabelValues("row_test"))
}
