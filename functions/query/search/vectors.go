package search

// Vector search (POST /v1/search, the MCP tool search_all_systems and
// `akosha search`).
//
// A search's path, on one snapshot of the memories table:
//
//  1. Files are pruned by the filter's tier and from/to (their partition's
//     day, then their created_at statistics) and system_id (their system_id
//     statistics), and grouped by tier: an index segment spans days and
//     systems (lake/vecindex).
//  2. Each tier's index segments (vecindex.Segments: the usable ones, less
//     than half of their vectors in files no longer live, no two covering
//     the same live file, newer ones superseding older ones) that cover a
//     kept file are searched, each once, in its graph at ef = max(100, k),
//     scaled up by 1/(1 - its dead fraction), with a filter applied during
//     the walk: the row's file must be live and kept (rows of compacted or
//     aged files are never returned, and the walk still returns k live
//     rows) and the row filter (system, project, kind, created_at range)
//     must pass; when the filter keeps few of a segment's rows
//     (hnsw.ShouldScanExactly) the matching vectors are scanned exactly
//     instead. A segment's vectors and per-row side table are decoded once
//     from the NVMe cache and kept in a byte-bounded LRU.
//  3. Kept files no chosen segment covers (new since the index job ran,
//     rewritten by compaction, moved by the age job, in tiers too small for
//     a segment, or in an older segment a newer one superseded) are scanned
//     exactly (SIMD dot products, hnsw.Exact) from their decoded vector
//     columns, which are cached in a byte-bounded LRU (data files are
//     immutable).
//  4. Candidates from all segments, scans and tiers are merged by score
//     (highest first; ties by system_id, id), the threshold applied.
//  5. Latest wins: a candidate from a file that shares a record key with
//     another live file (the key index, KeyIndex) may be an old version of a
//     re-sent record. Those candidates are resolved with one statement over
//     the memories view, which applies latest-wins itself:
//     SELECT system_id, id, ingested_at FROM memories WHERE system_id IN
//     (...) AND id IN (...); a candidate survives only if its ingested_at is
//     the latest. A record whose latest version has no embedding thus never
//     appears, and a re-sent record appears once, even when its versions
//     are in two segments (each segment keeps the latest version among its
//     own files only) or in a segment and a scanned file. When candidates were
//     dropped and fewer than k remain, the search is repeated with a larger
//     per-partition k (x4, up to three times).
//  6. The content of the final top-k is read from their data files' rows in
//     the NVMe cache (the side tables keep each vector's file and row), and
//     their stored vectors, to score them exactly (Finish). A hybrid search
//     stops before this step (Ranked) and reads only its fused top k
//     (Hybrid).
//
// Indexes are found by listing <table>/_indexes/ at most every 5 seconds
// (RefreshIndexes forces it); an index built after a search started is used
// by the next one.

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/schemas"
)

// KeyIndex is the snapshot's key index as a vector search uses it (the
// query function keeps it, since SQL reads it too): it learns file keys
// from an index's rows, reads the other files' (Sync), and says which
// files share a record key with another.
type KeyIndex interface {
	KeyLearner
	SharedKeys
	// Sync makes the index cover the live files of snap's table that
	// belong to systems (nil: every system), except those in skip.
	Sync(ctx context.Context, table string, snap *delta.Snapshot, systems, skip map[string]bool) error
	// Knows reports whether the index holds the keys of every file in keys.
	Knows(keys map[string]bool) bool
}

// Vectors answers a vector search of plan on snap (see the top of this
// file): it collects candidates, keeps the latest
// versions (keyIdx says which files may hold older ones, v decides), in up
// to four rounds of a deeper kk when too many were dropped, and appends the
// best p.K, re-scored from their rows (hits), to out.
func (s *State) Vectors(ctx context.Context, snap *delta.Snapshot, plan []*Part, p *Params, keyIdx KeyIndex, v Versions, hits Hits, out *[]Result, st *Stats) error {
	final, err := s.Ranked(ctx, snap, plan, p, keyIdx, v, st)
	if err != nil {
		return err
	}
	return Finish(ctx, hits, final, p, out)
}

// Ranked is Vectors up to the latest versions (steps 1 to 5 of the top of
// this file): the final candidates, best first by the scores their
// segments and scans gave (an int8 index's are within about 1e-3 of the
// data's), at most Rescored(p.K) of them, none of their rows read. A
// hybrid search fuses on them and reads only the fused top k (Hybrid).
func (s *State) Ranked(ctx context.Context, snap *delta.Snapshot, plan []*Part, p *Params, keyIdx KeyIndex, v Versions, st *Stats) ([]Candidate, error) {
	for _, pp := range plan {
		pp.Keys = keyIdx
	}
	// The key index (which files share record keys) is needed only once
	// the candidates are merged. A cold function learns the keys of the
	// files an index covers from the index's rows as it loads them, and
	// reads the others' id columns beside the index searches.
	fromIndexes := map[string]bool{}
	for _, pp := range plan {
		for _, key := range pp.Learn {
			if key != "" {
				fromIndexes[key] = true
			}
		}
	}
	var keys errgroup.Group
	keys.Go(func() error { return keyIdx.Sync(ctx, schemas.TableMemories, snap, p.Systems, fromIndexes) })
	defer keys.Wait()
	kk := Rescored(p.K)
	var final []Candidate
	for round := 0; ; round++ {
		st.Rounds = round + 1
		cands, full, err := s.Collect(ctx, plan, p, kk, st)
		if err != nil {
			return nil, err
		}
		if err := keys.Wait(); err != nil {
			return nil, err
		}
		// The files an index was to name but did not (vacuum deleted it
		// under this search) are read now.
		if !keyIdx.Knows(fromIndexes) {
			if err := keyIdx.Sync(ctx, schemas.TableMemories, snap, p.Systems, nil); err != nil {
				return nil, err
			}
		}
		final, err = LatestOnly(ctx, keyIdx, v, cands, kk, st)
		if err != nil {
			return nil, err
		}
		// Another round helps only when some source held more than kk
		// matches, or when LatestOnly cut the merged candidates at kk:
		// many small sources can together hold more than kk while none
		// alone is full.
		full = full || len(cands) > kk
		if len(final) >= p.K || !full || st.Dropped == 0 || round == 3 || kk >= 4*MaxK {
			break
		}
		kk *= 4
	}
	if n := Rescored(p.K); len(final) > n {
		final = final[:n]
	}
	return final, nil
}
