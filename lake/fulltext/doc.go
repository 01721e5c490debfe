// Package fulltext is Akosha's full-text index segment: the BM25 side of
// hybrid search (issue 23), beside the vector index's HNSW graph.
//
// # Where it sits
//
// A full-text segment covers the same data files as a vector index segment
// (one set of segments per tier, any systems in a segment, never one per
// system) and numbers its documents the same way, so doc n of the full-text
// segment is node n of the graph and row n of the segment's rows table. The
// index job builds both from one pass over the files and writes the
// full-text one beside the graph under <table>/_indexes/. Each document is a
// memory's content and tags, one bag of terms (Doc). Files no segment
// covers yet are scored exactly at query time (Texts), with the same code.
//
// # Scores that compare across segments
//
// BM25 needs corpus statistics: the number of documents, their average
// length, and each query term's document frequency. A segment knows its
// own (Segment.Stats); a query over a tier asks every segment and the
// uncovered files for theirs, adds them up (MergeStats) and searches each
// with the sum (Options.Stats), so every score is the one a single index of
// the whole tier would give, and hits merge by score (SearchAll does all of
// this). The idf and the formula are FTS5's bm25(), k1 and b configurable
// (BM25, default 1.2 and 0.75); BENCHMARKS.md compares scores, top 10 and
// speed with FTS5 on the same texts.
//
// # Queries
//
// A query is a bag of terms tokenized like the documents (ParseQuery), no
// phrases or operators. MatchAll returns documents holding every term, FTS5's
// meaning of a bare multi-word query; MatchAny returns documents holding any,
// which is what fusion with the vector side wants (recall). Both return the
// exact top k by score (ties to the lower doc number): MatchAll intersects
// postings with skips, MatchAny prunes with MaxScore using per-term bounds
// stored in the segment, and skips runs of documents whose skip blocks'
// bounds cannot reach the k-th score (block-max; blockmax.go: the per-block
// bounds are computed from the postings on a term's first search and kept
// with the segment). Options.Allow filters inside the search, so k
// admitted hits come back whenever k admitted documents match.
//
// # The segment
//
// One immutable byte string (format.go has the layout): a header with magic,
// version, counts and two CRC-32C checksums; the document lengths; a term
// table sorted by term, searched by bisection; the postings, delta-varint doc
// gaps and term frequencies, with a skip entry every 128 postings. Open
// checks the length and checksums and then reads in place (an mmap works),
// decoding only the query terms' postings; every read is bounds-checked, so
// malformed bytes are an error wrapping ErrCorrupt, never a panic
// (FuzzSegment).
//
// Tokenization is tokenize.go: FTS5's unicode61 with remove_diacritics 1,
// and no stemming.
package fulltext
