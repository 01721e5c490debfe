package search

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/viterin/vek/vek32"
	"golang.org/x/sync/errgroup"

	"github.com/akosha/akosha/lake/vecindex"
	"github.com/akosha/akosha/schemas"
)

// SharedKeys is the snapshot's key index as latest-wins asks it: does a
// live file share a record key with another (so its rows may be older
// versions of a re-sent record)?
type SharedKeys interface {
	Shared(fileKey string) bool
}

// LatestOnly keeps, of the best kk candidates, those that are the latest
// version of their record, one per record, best first: those of files
// that share keys (keys) or may have expired are asked of v.
func LatestOnly(ctx context.Context, keys SharedKeys, v Versions, cands []Candidate, kk int, st *Stats) ([]Candidate, error) {
	if len(cands) > kk {
		cands = cands[:kk]
	}
	type key struct{ sys, id string }
	var check []Candidate
	// Candidates that may be older versions, or expired, are checked
	// against the memories view (latest wins, expired rows hidden).
	mustCheck := func(c Candidate) bool { return c.File.Expiring || keys.Shared(c.File.Key) }
	for _, c := range cands {
		if mustCheck(c) {
			check = append(check, c)
		}
	}
	latest := map[string]int64{}
	if len(check) > 0 {
		sys, ids := map[string]bool{}, map[string]bool{}
		for _, c := range check {
			sys[c.System] = true
			ids[c.ID] = true
		}
		var err error
		if latest, err = v.LatestIngested(ctx, sys, ids); err != nil {
			return nil, err
		}
		st.Resolved += len(check)
	}
	seen := map[key]bool{}
	out := make([]Candidate, 0, len(cands))
	for _, c := range cands {
		k := key{c.System, c.ID}
		if seen[k] {
			st.Dropped++
			continue
		}
		if mustCheck(c) {
			if l, ok := latest[c.System+"/"+c.ID]; !ok || l != c.Ingested {
				st.Dropped++
				continue
			}
		}
		seen[k] = true
		out = append(out, c)
	}
	return out, nil
}

// Hits reads rows of a data file for the final results: their content and
// stored vector. The query function reads them through its NVMe cache and
// the parquet footers it keeps (or ranged GETs of a file not cached yet).
type Hits interface {
	HitsAt(ctx context.Context, f *File, rows []uint32) ([]vecindex.Hit, error)
}

// Finish reads the content and stored vector of each final candidate from
// its data file, scores it exactly against that vector (an int8 index's
// scores are within about 1e-3; a score shown is always the data's), and
// appends the best p.K that still pass the threshold to out.
func Finish(ctx context.Context, hits Hits, final []Candidate, p *Params, out *[]Result) error {
	if n := Rescored(p.K); len(final) > n {
		final = final[:n]
	}
	contents, err := readFinal(ctx, hits, final, p.Q)
	if err != nil {
		return err
	}
	order := make([]int, 0, len(final))
	for i, c := range final {
		if !p.HasThreshold || c.Score >= p.Threshold {
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return Better(&final[order[a]], &final[order[b]]) })
	if len(order) > p.K {
		order = order[:p.K]
	}
	for _, i := range order {
		c := final[i]
		*out = append(*out, Result{
			SystemID: c.System, ID: c.ID, Kind: c.Kind, Content: contents[i], Score: c.Score,
			CreatedAt: schemas.FormatTime(time.UnixMicro(c.Created)), Tier: c.File.Partition.Tier, Project: c.Project,
		})
	}
	return nil
}

// readFinal reads the content and stored vector of each of cands from its
// data file, and scores it exactly against that vector (q), in place. It
// returns the contents, in the order of cands.
func readFinal(ctx context.Context, hits Hits, cands []Candidate, q []float32) ([]string, error) {
	byFile := map[*File][]int{}
	for i, c := range cands {
		byFile[c.File] = append(byFile[c.File], i)
	}
	contents := make([]string, len(cands))
	// Each file is a few requests one after another, mostly waiting for
	// the store: all of them at once.
	g, gctx := errgroup.WithContext(ctx)
	for pd, idx := range byFile {
		g.Go(func() error {
			rows := make([]uint32, len(idx))
			for j, i := range idx {
				rows[j] = cands[i].Pos
			}
			got, err := hits.HitsAt(gctx, pd, rows)
			if err != nil {
				return fmt.Errorf("%s: %w", pd.Key, err)
			}
			if len(got) != len(rows) {
				return fmt.Errorf("%s: %d rows read for %d asked", pd.Key, len(got), len(rows))
			}
			for j, i := range idx {
				contents[i] = got[j].Content
				if got[j].Vec != nil {
					cands[i].Score = vek32.Dot(q, got[j].Vec)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("search: read content: %w", err)
	}
	return contents, nil
}
