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
// So far this package holds: what a search asks (Query, Filter) and
// answers (Result), its validation into Params (Validate; the function then
// embeds the text, Embedded, and confines the search to the tenant,
// Confine), the row filters index walks, scans and the text corpus apply
// (Params.RowFilter, TextRow, TagsMatch), and the search state (State):
// the index manifests listed, the loaded graphs and full-text segments,
// the decoded vectors and text columns of data files (TextData), each in a
// byte-bounded LRU (RefLRU). State reads objects through Lake, the one
// interface the function implements so far (its store and NVMe cache).
// Also the ranking of one BM25 corpus spread over several sources
// (RankSources). The planner, the candidate merge and latest-wins, the text
// ranking and the fusion still live in functions/query (search.go,
// textsearch.go), since they call the key index, DuckDB and the snapshots
// directly; they move here behind the rest of the needs above.
package search
