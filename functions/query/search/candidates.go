package search

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/akosha/akosha/lake/hnsw"
	"github.com/akosha/akosha/lake/vecindex"
)

// searchEf is the graph search's candidate list (ef) at least.
const searchEf = hnsw.DefaultEfSearch

// Stats say how a search was answered (tests and metrics).
type Stats struct {
	IndexSearches int // segments searched through their graph
	IndexExact    int // segments scanned exactly (selective filter)
	FileScans     int // data files scanned exactly
	Resolved      int // candidates checked for latest-wins
	Dropped       int // candidates that were not the latest version
	Rounds        int
	IndexKeys     []string // manifests used
	TextSegments  int      // full-text segments searched (modes text, hybrid)
	TextFiles     int      // data files scored exactly by the text ranking
	TextStored    int      // full-text segments admitted whole, scored with their stored statistics
}

// Candidate is one scored row.
type Candidate struct {
	Score    float32
	File     *File
	Pos      uint32 // the row in File
	System   string
	ID       string
	Kind     string
	Project  string
	Created  int64 // Unix micros
	Ingested int64
}

// Collect searches every planned partition for its best kk rows. full
// reports whether some source returned kk rows (and so could give more).
func (s *State) Collect(ctx context.Context, plan []*Part, p *Params, kk int, st *Stats) ([]Candidate, bool, error) {
	var (
		mu    sync.Mutex
		cands []Candidate
		full  bool
	)
	add := func(cs []Candidate, n int) {
		mu.Lock()
		defer mu.Unlock()
		cands = append(cands, cs...)
		if n >= kk {
			full = true
		}
	}
	rf := p.RowFilter()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, pp := range plan {
		if pp.Index != nil {
			g.Go(func() error {
				cs, n, exact, err := s.searchIndex(gctx, pp, p, rf, kk)
				if IndexGone(err) {
					// Vacuum deleted it under this search (listings lag by
					// up to IndexListTTL): scan its live files instead.
					for _, pd := range pp.Files {
						if pd == nil {
							continue
						}
						cs1, n1, err := s.scanFile(gctx, pd, p, rf, kk)
						if err != nil {
							return err
						}
						mu.Lock()
						st.FileScans++
						mu.Unlock()
						add(cs1, n1)
					}
					return nil
				}
				if err != nil {
					return err
				}
				mu.Lock()
				st.IndexKeys = append(st.IndexKeys, pp.Index.Key)
				if exact {
					st.IndexExact++
				} else {
					st.IndexSearches++
				}
				mu.Unlock()
				add(cs, n)
				return nil
			})
		}
		for _, pd := range pp.Scan {
			g.Go(func() error {
				cs, n, err := s.scanFile(gctx, pd, p, rf, kk)
				if err != nil {
					return err
				}
				mu.Lock()
				st.FileScans++
				mu.Unlock()
				add(cs, n)
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, false, fmt.Errorf("search: %w", err)
	}
	sort.Slice(cands, func(i, j int) bool { return Better(&cands[i], &cands[j]) })
	return cands, full, nil
}

// Better reports whether a ranks before b: the higher score, then by
// system_id and id, then the newer version.
func Better(a, b *Candidate) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	if a.System != b.System {
		return a.System < b.System
	}
	if a.ID != b.ID {
		return a.ID < b.ID
	}
	return a.Ingested > b.Ingested
}

func (s *State) searchIndex(ctx context.Context, pp *Part, p *Params, rf func(string, string, string, int64) bool, kk int) ([]Candidate, int, bool, error) {
	li, release, err := s.Index(ctx, pp.Index)
	if err != nil {
		return nil, 0, false, err
	}
	defer release()
	rows := li.Rows
	if pp.Learn != nil {
		pp.Keys.LearnIndexed(pp.Learn, rows)
	}
	n := rows.Len()
	// Rows of files that are dead or pruned are skipped during the walk,
	// like rows the filter rejects: the walk goes through them and still
	// returns kk rows that count.
	use := make([]bool, len(pp.Files))
	matching := 0
	for i, pd := range pp.Files {
		if use[i] = pd != nil; use[i] {
			matching += li.PerFile[i]
		}
	}
	var filter func(int32) bool
	if matching < n {
		filter = func(id int32) bool { return use[rows.File[id]] }
	}
	if rf != nil {
		sysOK := make([]bool, len(rows.Systems))
		for i, s := range rows.Systems {
			sysOK[i] = p.AllowsSystem(s)
		}
		kindOK := make([]bool, len(rows.Kinds))
		for i, k := range rows.Kinds {
			kindOK[i] = p.Kinds == nil || p.Kinds[k]
		}
		proj := int64(-1) // -1: any project
		if p.Project != "" {
			proj = -2 // no row has it
			for i, s := range rows.Projects {
				if s == p.Project {
					proj = int64(i)
				}
			}
		}
		// Tags and session_id are not in the index's rows: the files'
		// text columns say which rows pass.
		var textOK [][]bool // per manifest file
		if p.TextFiltered() {
			textOK = make([][]bool, len(pp.Files))
			for i, pd := range pp.Files {
				if pd == nil {
					continue
				}
				if textOK[i], err = s.textAllowed(ctx, pd, p); err != nil {
					return nil, 0, false, err
				}
			}
		}
		filter = func(id int32) bool {
			c := rows.Created[id]
			return use[rows.File[id]] && sysOK[rows.System[id]] && kindOK[rows.Kind[id]] && (proj == -1 || int64(rows.Project[id]) == proj) &&
				(p.From == 0 || c >= p.From) && (p.To == 0 || c <= p.To) &&
				(textOK == nil || AllowedAt(textOK[rows.File[id]], rows.Pos[id]))
		}
		matching = 0
		for i := range n {
			if filter(int32(i)) {
				matching++
			}
		}
		if matching == 0 {
			return nil, 0, true, nil
		}
	}
	if matching == 0 {
		return nil, 0, true, nil
	}
	// Dead nodes are walked but never kept, so a graph with a dead
	// fraction d needs about 1/(1-d) the candidates for the same recall
	// (d < vecindex.MaxDeadFraction: at most twice).
	ef := int(math.Ceil(float64(max(searchEf, kk)) / (1 - min(pp.Dead, vecindex.MaxDeadFraction))))
	exact := filter != nil && hnsw.ShouldScanExactly(matching, n, ef)
	var res []hnsw.Result
	if exact {
		res, err = li.Graph.Exact(p.Q, kk, filter)
	} else {
		res, err = li.Graph.Search(p.Q, kk, ef, filter)
	}
	if err != nil {
		return nil, 0, exact, err
	}
	out := make([]Candidate, 0, len(res))
	for _, r := range res {
		if p.HasThreshold && r.Score < p.Threshold {
			continue
		}
		i := r.ID
		if pp.Files[rows.File[i]] == nil {
			continue // cannot happen: the filter skipped it
		}
		out = append(out, Candidate{
			Score: r.Score, File: pp.Files[rows.File[i]], Pos: rows.Pos[i], System: rows.Systems[rows.System[i]], ID: rows.ID[i],
			Kind: rows.Kinds[rows.Kind[i]], Project: rows.Projects[rows.Project[i]],
			Created: rows.Created[i], Ingested: rows.Ingested[i],
		})
	}
	return out, len(res), exact, nil
}

func (s *State) scanFile(ctx context.Context, pd *File, p *Params, rf func(string, string, string, int64) bool, kk int) ([]Candidate, int, error) {
	d, release, err := s.FileData(ctx, pd.Key, pd.Size)
	if err != nil {
		return nil, 0, err
	}
	defer release()
	var textOK []bool
	if p.TextFiltered() {
		if textOK, err = s.textAllowed(ctx, pd, p); err != nil {
			return nil, 0, err
		}
	}
	if rf != nil && (p.Systems != nil || p.Scope != nil) && len(d.Systems) > 0 && p.AllowsAll(d.Systems) {
		// Every row's system passes (a tenant's search of a file holding
		// only its systems): no per-row system test, and without other
		// filters the unfiltered scan.
		rf = p.rowFilterExceptSystem()
	}
	var filter func(int32) bool
	if rf != nil {
		filter = func(v int32) bool {
			r := d.VecRow[v]
			return rf(d.System[r], d.Kind[r], d.Project[r], d.Created[r]) && (textOK == nil || AllowedAt(textOK, r))
		}
	}
	res, err := hnsw.Exact(d.Vecs, vecindex.Dim, p.Q, kk, filter)
	if err != nil {
		return nil, 0, err
	}
	out := make([]Candidate, 0, len(res))
	for _, r := range res {
		if p.HasThreshold && r.Score < p.Threshold {
			continue
		}
		row := d.VecRow[r.ID]
		out = append(out, Candidate{
			Score: r.Score, File: pd, Pos: row, System: d.System[row], ID: d.ID[row], Kind: d.Kind[row], Project: d.Project[row],
			Created: d.Created[row], Ingested: d.Ingested[row],
		})
	}
	return out, len(res), nil
}

// Rescored is how many candidates a search of k collects and finish
// re-scores: a margin past k, since a hit just past the kth by an int8
// index's score may overtake it once re-scored from the data.
func Rescored(k int) int { return k + k/2 + 2 }

// textAllowed says, per row of pd, whether the tags and session_id filters
// pass (the other row filters are applied by the caller).
func (s *State) textAllowed(ctx context.Context, pd *File, p *Params) ([]bool, error) {
	td, release, err := s.TextFile(ctx, pd.Key, pd.Size)
	if err != nil {
		return nil, err
	}
	defer release()
	ok := make([]bool, td.Rows())
	for r := range ok {
		ok[r] = (p.Session == "" || p.Session == td.Session[r]) && p.TagsMatch(td.Tags[r])
	}
	return ok, nil
}
