package query

// SearchStatsOf exposes how a search was answered, for tests.
func SearchStatsOf(r *SearchResponse) (indexSearches, indexExact, fileScans, dropped int, indexKeys []string) {
	s := r.stats
	return s.IndexSearches, s.IndexExact, s.FileScans, s.Dropped, s.IndexKeys
}
