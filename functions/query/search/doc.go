// Package search is the query function's search capability below HTTP:
// vector search over index segments and exact scans, full-text (BM25)
// ranking, the row filters both apply, and the fusion of their rankings
// (issue 23; the package map in DESIGN.md). It speaks no HTTP: the query
// function (functions/query) decodes requests, authenticates, encodes
// answers and errors, and calls this package.
//
// How it fits. A search needs from the query function, and only from it:
//
//   - the snapshot of the memories table to read (the latest, or a past one
//     for as_of), and the clock that decides what has expired;
//   - the caller's tenant scope (lake/tenants), which narrows the systems a
//     search may return;
//   - the embeddings endpoint, to turn a text into a vector;
//   - the NVMe cache (read an object's bytes, or a few of its pages), the
//     store behind it, and the parquet footers it keeps;
//   - the key index of the snapshot (which files share a record key), which
//     SQL reads too;
//   - "the latest versions of these records", a statement over the
//     memories view that DuckDB answers with latest-wins and expiry applied;
//   - the tier stores a search fans out to (fanout.go), which are HTTP.
//
// So far this package holds the parts that need none of those: what a
// search asks (Query, Filter) and answers (Result), its validation into
// Params (Validate; the function then embeds the text, Embedded, and
// confines the search to the tenant, Confine), the row filters index walks,
// scans and the text corpus apply (Params.RowFilter, TextRow, TagsMatch),
// the text columns of a data file (TextData), the byte-bounded LRU that
// loaded segments and decoded files are kept in (RefLRU), and the ranking
// of one BM25 corpus spread over several sources (RankSources). The rest of
// the search still lives in functions/query (search.go, textsearch.go,
// vectors.go) and moves here behind a small interface of the needs above.
package search
