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
// byte-bounded LRU (RefLRU). On the state, the planner (State.Plan: which
// segments and files, per tier) and the candidate collection
// (State.Collect: graph walk or exact scan per segment, exact scans of the
// uncovered files, merged best first, Better). Then the ranking of one BM25
// corpus spread over several sources (RankSources), latest-wins admission
// of text rows (AdmitLatest), and the fusion of the two rankings (Fuse).
//
// The vector search runs here from the plan on (State.Vectors): rounds of
// Collect and the latest-wins cut of the merged candidates (LatestOnly),
// then the exact re-scoring of the final hits from their data files' rows
// (Finish).
//
// The interfaces the function implements, each defined here where it is
// used: Lake (its store and NVMe cache, for State), Versions (the latest
// version of records: a statement over the memories view in DuckDB),
// KeyIndex (the snapshot's key index, which SQL shares: it learns file
// keys from an index's rows, reads the others', and says which files share
// a record key), and Hits (the rows of the final hits, read through the
// NVMe cache and its kept footers). Still in functions/query: the HTTP
// handler, the MCP tool, decoding and errors, embedding, the tenant scope,
// as_of snapshot selection and tier-store fan-out (search.go, fanout.go,
// mcp.go), which are the function's; and the text ranking's assembly
// (rankText in textsearch.go), which drives the key index and the text
// segments directly and is next to move.
package search
