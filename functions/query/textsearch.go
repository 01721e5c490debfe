package query

// Full-text and hybrid search (issue 23): mode "text" ranks by BM25 over
// content and tags, mode "hybrid" fuses that ranking with the vector
// search's. The ranking itself is the search package's (search.State.RankText,
// whose file comment says how); here the function picks the snapshot, its
// key index and the answers to latest-version questions, and encodes.

import (
	"context"
	"fmt"

	"github.com/akosha/akosha/functions/query/search"
	"github.com/akosha/akosha/schemas"
)

// searchText answers modes text and hybrid here, on the current snapshot
// (or the past one of an as_of search).
func (f *Function) searchText(ctx context.Context, p *searchParams) (*SearchResponse, error) {
	if err := f.vectors.RefreshIndexes(ctx, search.IndexListTTL); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	snaps := f.searchSnapshots(p)
	snap := snaps[schemas.TableMemories]
	plan := f.planSearch(snap, p)
	keyIdx, versions := f.keysFor(schemas.TableMemories, snap), snapshotVersions{f, snaps, p.Now}
	resp := &SearchResponse{Results: []SearchResult{}, Version: snap.Version}
	if p.Mode == search.ModeHybrid {
		// Both rankings at once, on the same snapshot and plan, fused on
		// record keys (search.State.Hybrid).
		var tst search.Stats
		if err := f.vectors.Hybrid(ctx, snap, plan, &p.Params, keyIdx, versions, searchHits{f}, &resp.Results, &resp.stats, &tst); err != nil {
			return nil, err
		}
		resp.stats.TextSegments, resp.stats.TextFiles, resp.stats.TextStored = tst.TextSegments, tst.TextFiles, tst.TextStored
		return resp, nil
	}
	th, release, err := f.vectors.RankText(ctx, snap, plan, &p.Params, p.K, keyIdx, versions, &resp.stats)
	if err != nil {
		return nil, err
	}
	defer release()
	for i, h := range th {
		r := h.Result()
		r.Score, r.BM25, r.Rank = float32(h.BM25), ptr(h.BM25), i+1
		resp.Results = append(resp.Results, r)
	}
	return resp, nil
}

func ptr[T any](v T) *T { return &v }
