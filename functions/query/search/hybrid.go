package search

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/fusion"
	"github.com/akosha/akosha/schemas"
)

// Hybrid answers a hybrid search of plan on snap: the vector ranking and
// the text ranking (RankText), each HybridDepth(p.K) deep, fused by
// weighted reciprocal rank, the best p.K appended to out. vst gets the
// vector ranking's stats, tst the text ranking's.
//
// The two rankings run at once, each in a goroutine of this call (the
// first to fail cancels the other; their errors are joined). The vector
// ranking stops before reading rows (Ranked): the fusion is on record
// keys, with the candidates' scores as their segments gave them, and only
// the fused top k the vector ranking holds are read from their data files
// (content and stored vector, scored exactly: what Finish does for a
// vector search), instead of every one of the ranking's depth candidates;
// the text ranking carries its contents. With a threshold the vector
// ranking is read whole (Vectors), since which candidates pass it is
// decided on the data's scores.
func (s *State) Hybrid(ctx context.Context, snap *delta.Snapshot, plan []*Part, p *Params, keyIdx KeyIndex, v Versions, hits Hits, out *[]Result, vst, tst *Stats) error {
	depth := HybridDepth(p.K)
	pv := *p
	pv.K = depth
	var (
		cands   []Candidate // the vector ranking, unread (no threshold)
		read    []Result    // the vector ranking, read (a threshold)
		th      []TextHit
		release = func() {}
	)
	both, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg         sync.WaitGroup
		vErr, tErr error
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		if p.HasThreshold {
			vErr = s.Vectors(both, snap, plan, &pv, keyIdx, v, hits, &read, vst)
		} else {
			cands, vErr = s.Ranked(both, snap, plan, &pv, keyIdx, v, vst)
		}
		if vErr != nil {
			cancel()
		}
	}()
	go func() {
		defer wg.Done()
		var rel func()
		th, rel, tErr = s.RankText(both, snap, plan, p, depth, keyIdx, v, tst)
		if tErr != nil {
			cancel()
			return
		}
		release = rel
	}()
	wg.Wait()
	defer release()
	if err := joinRankings(ctx, vErr, tErr); err != nil {
		return err
	}

	txt := make([]Result, len(th))
	for i, h := range th {
		txt[i] = h.Result()
		txt[i].BM25 = ptr(h.BM25)
	}
	if p.HasThreshold {
		fused, err := Fuse(read, txt, p.Weight, p.K)
		if err != nil {
			return err
		}
		*out = append(*out, fused...)
		return nil
	}
	fused, err := fuseRanked(ctx, hits, cands, txt, p, depth)
	if err != nil {
		return err
	}
	*out = append(*out, fused...)
	return nil
}

// joinRankings is the error of a hybrid search whose vector ranking ended
// with vErr and text ranking with tErr: both joined, less the cancellation
// one's failure caused in the other (ctx, the search's, still live).
func joinRankings(ctx context.Context, vErr, tErr error) error {
	if vErr == nil && tErr == nil {
		return nil
	}
	if ctx.Err() == nil {
		if vErr != nil && tErr != nil && errors.Is(tErr, context.Canceled) {
			tErr = nil
		} else if vErr != nil && tErr != nil && errors.Is(vErr, context.Canceled) {
			vErr = nil
		}
	}
	var errs []error
	if vErr != nil {
		errs = append(errs, fmt.Errorf("vector ranking: %w", vErr))
	}
	if tErr != nil {
		errs = append(errs, fmt.Errorf("text ranking: %w", tErr))
	}
	return errors.Join(errs...)
}

// fuseRanked fuses the vector ranking's candidates cands (best first by
// their segments' scores, unread; the first depth of them rank) with the
// text ranking txt (Fuse's), and reads the rows of the fused top p.K that
// the vector ranking holds: their content, and their stored vector, which
// gives the vector score shown (the data's, as Finish's).
func fuseRanked(ctx context.Context, hits Hits, cands []Candidate, txt []Result, p *Params, depth int) ([]Result, error) {
	if len(cands) > depth {
		cands = cands[:depth]
	}
	vs := make([]fusion.Scored[string], len(cands))
	byKey := make(map[string]int, len(cands))
	for i, c := range cands {
		key := c.System + "/" + c.ID
		vs[i] = fusion.Scored[string]{Key: key, Score: float64(c.Score)}
		byKey[key] = i
	}
	ts := make([]fusion.Scored[string], len(txt))
	textOf := make(map[string]int, len(txt))
	for i, r := range txt {
		key := r.SystemID + "/" + r.ID
		ts[i] = fusion.Scored[string]{Key: key, Score: *r.BM25}
		textOf[key] = i
	}
	fused, err := fusion.Fuse(vs, ts, fusion.Options{Weight: p.Weight, K: fusion.DefaultK, Limit: p.K})
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	// The fused hits the vector ranking holds, read.
	var toRead []Candidate
	at := make([]int, len(fused)) // index into toRead, or -1
	for i, h := range fused {
		at[i] = -1
		if h.VectorRank > 0 {
			at[i] = len(toRead)
			toRead = append(toRead, cands[byKey[h.Key]])
		}
	}
	contents, err := readFinal(ctx, hits, toRead, p.Q)
	if err != nil {
		return nil, err
	}
	out := make([]Result, 0, len(fused))
	for i, h := range fused {
		var r Result
		if j := at[i]; j >= 0 {
			// Shown as the vector ranking has it (Fuse's rule), with the
			// data's score.
			c := toRead[j]
			r = Result{
				SystemID: c.System, ID: c.ID, Kind: c.Kind, Content: contents[j],
				CreatedAt: schemas.FormatTime(time.UnixMicro(c.Created)), Tier: c.File.Partition.Tier, Project: c.Project,
				VectorScore: ptr(c.Score),
			}
		} else {
			r = txt[textOf[h.Key]]
		}
		r.Score, r.Rank, r.BM25 = float32(h.Score), h.Rank, nil
		if h.TextRank > 0 {
			r.BM25 = ptr(h.TextScore)
		}
		out = append(out, r)
	}
	return out, nil
}
