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
// The function meets those needs itself (snapshot, clock, tenant scope,
// embedding, fan-out) or answers them through interfaces defined here,
// where they are used:
//
//   - Lake: the store index manifests are listed from and the NVMe cache
//     objects are read through (State);
//   - Versions: the latest version of records, one statement over the
//     memories view in DuckDB (LatestOnly, AdmitLatest);
//   - KeyIndex: the snapshot's key index, which SQL shares: it learns file
//     keys from an index's rows, reads the others', and says which files
//     share a record key (Vectors, RankText);
//   - Hits: the rows of the final hits, read through the NVMe cache and
//     its kept parquet footers (Finish).
//
// What is here: what a search asks (Query, Filter) and answers (Result);
// its validation into Params (Validate; the function then embeds the text,
// Params.Embedded, and confines the search to the tenant, Params.Confine);
// the row filters index walks, scans and the text corpus apply; the search
// state (State: the index manifests listed, the loaded graphs and
// full-text segments, the decoded vectors and text columns of data files,
// each in a byte-bounded LRU, RefLRU); the planner (State.Plan: which
// segments and files, per tier); the vector search from the plan on
// (State.Vectors: rounds of State.Collect and LatestOnly, then Finish's
// exact re-scoring); the text ranking (State.RankText over RankSources and
// AdmitLatest; text.go says how); and the fusion of the two (Fuse, and
// State.Hybrid: both rankings at once, fused on record keys, only the
// fused top k read).
//
// What stays in functions/query, as the function's: the HTTP handler and
// the MCP tool, decoding the body and encoding answers and errors (a
// refused search is an *Error, made an HTTP error there), embedding a
// text, the tenant scope, as_of snapshot selection, choosing the
// snapshot's key index, the dispatch by mode and tier-store fan-out
// (search.go, textsearch.go, fanout.go, mcp.go).
package search
