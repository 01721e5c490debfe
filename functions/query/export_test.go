package query

// SearchStatsOf exposes how a search was answered, for tests.
func SearchStatsOf(r *SearchResponse) (indexSearches, indexExact, fileScans, dropped int, indexKeys []string) {
	s := r.stats
	return s.IndexSearches, s.IndexExact, s.FileScans, s.Dropped, s.IndexKeys
}

// KeptFooters are the keys of the data files whose parsed footers f keeps
// for search hits, and CachedKeys those its NVMe cache holds.
func KeptFooters(f *Function) []string { return f.footers.Keys() }
func CachedKeys(f *Function) []string  { return f.cache.Keys() }
