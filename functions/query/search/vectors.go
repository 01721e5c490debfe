package search

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

// Vectors answers a vector search of plan on snap (the query function's
// search.go says the whole path): it collects candidates, keeps the latest
// versions (keyIdx says which files may hold older ones, v decides), in up
// to four rounds of a deeper kk when too many were dropped, and appends the
// best p.K, re-scored from their rows (hits), to out.
func (s *State) Vectors(ctx context.Context, snap *delta.Snapshot, plan []*Part, p *Params, keyIdx KeyIndex, v Versions, hits Hits, out *[]Result, st *Stats) error {
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
			return err
		}
		if err := keys.Wait(); err != nil {
			return err
		}
		// The files an index was to name but did not (vacuum deleted it
		// under this search) are read now.
		if !keyIdx.Knows(fromIndexes) {
			if err := keyIdx.Sync(ctx, schemas.TableMemories, snap, p.Systems, nil); err != nil {
				return err
			}
		}
		final, err = LatestOnly(ctx, keyIdx, v, cands, kk, st)
		if err != nil {
			return err
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
	return Finish(ctx, hits, final, p, out)
}
