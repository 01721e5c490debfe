package query

// Full-text and hybrid search (issue 23): mode "text" ranks by BM25 over
// content and tags (lake/fulltext); mode "hybrid" fuses that ranking with
// the vector search's by weighted reciprocal rank (lake/fusion).
//
// The text ranking, on one snapshot of the memories table:
//
//  1. Files are planned as for vector search (planSearch: tier, day and
//     system_id pruning); every kept file is read (its text columns,
//     decoded once and cached: textData). No full-text segment is used yet:
//     every kept file is scored exactly.
//  2. Rows pass the row filter (system, project, kind, created_at range,
//     tags, session_id).
//  3. Latest wins, before scoring, since BM25's statistics depend on the
//     corpus: rows of files sharing a record key with another live file are
//     resolved with one statement over the memories view (as vector search
//     resolves its candidates); a row survives only if it is its record's
//     latest version. The others are unique among live files.
//  4. The surviving rows are the corpus: fulltext.Texts scores them with
//     their own statistics (documents, average length and document
//     frequencies of exactly the records the filter admits), MatchAny, the
//     exact top k.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/akosha/akosha/lake/fulltext"
	"github.com/akosha/akosha/lake/fusion"
	"github.com/akosha/akosha/schemas"
)

// textDoc is one row of the text corpus.
type textDoc struct {
	file *plannedData
	td   *textData
	row  uint32
}

func (d textDoc) key() string { return d.td.System[d.row] + "/" + d.td.ID[d.row] }

func (d textDoc) result() SearchResult {
	r := d.row
	return SearchResult{
		SystemID: d.td.System[r], ID: d.td.ID[r], Kind: d.td.Kind[r], Content: d.td.Content[r],
		CreatedAt: schemas.FormatTime(time.UnixMicro(d.td.Created[r])), Tier: d.file.part.Tier, Project: d.td.Project[r],
	}
}

// textRow says whether row r of d passes every row filter of p. The
// system test is allowsSystem, which holds the caller's tenant too: a row
// of another tenant's system never enters the BM25 corpus, so it can
// neither be a hit nor weigh on the corpus statistics (IDF) of this one.
func (p *searchParams) textRow(d *textData, r int) bool {
	c := d.Created[r]
	if !p.allowsSystem(d.System[r]) || (p.kinds != nil && !p.kinds[d.Kind[r]]) ||
		(p.project != "" && p.project != d.Project[r]) || (p.from != 0 && c < p.from) || (p.to != 0 && c > p.to) ||
		(p.session != "" && p.session != d.Session[r]) {
		return false
	}
	return p.tagsMatch(d.Tags[r])
}

// tagsMatch applies filter.tags: any of them, or all with tags_all.
func (p *searchParams) tagsMatch(tags []string) bool {
	if len(p.tags) == 0 {
		return true
	}
	for _, t := range p.tags {
		has := slices.Contains(tags, t)
		if has && !p.tagsAll {
			return true
		}
		if !has && p.tagsAll {
			return false
		}
	}
	return p.tagsAll
}

// textHit is one hit of the text ranking.
type textHit struct {
	doc  textDoc
	bm25 float64
}

// rankText returns the best depth records for p.text by BM25 (see the top
// of this file). release frees the decoded files the hits point into.
func (f *Function) rankText(ctx context.Context, snaps snapshots, plan []*plannedPart, p *searchParams, depth int) ([]textHit, func(), error) {
	var files []*plannedData
	for _, pp := range plan {
		for _, pd := range pp.files {
			if pd != nil {
				files = append(files, pd)
			}
		}
		files = append(files, pp.scan...)
	}
	var (
		mu       sync.Mutex
		releases []func()
	)
	release := func() {
		for _, r := range releases {
			r()
		}
	}
	snap := snaps[schemas.TableMemories]
	tds := make([]*textData, len(files))
	g, gctx := errgroup.WithContext(ctx)
	keys := f.keysFor(schemas.TableMemories, snap)
	g.Go(func() error { return keys.Sync(gctx, schemas.TableMemories, snap, p.systems, nil) })
	for i, pd := range files {
		g.Go(func() error {
			td, rel, err := f.vectors.textFile(gctx, pd.key, pd.size)
			if err != nil {
				return err
			}
			mu.Lock()
			releases = append(releases, rel)
			mu.Unlock()
			tds[i] = td
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		release()
		return nil, func() {}, fmt.Errorf("search: %w", err)
	}
	var docs, check []textDoc
	for i, pd := range files {
		td := tds[i]
		// Rows of a file sharing keys with another may be older versions,
		// and rows of an expiring file may have expired: both are checked
		// against the memories view (latest wins, expired rows hidden).
		shared := keys.Shared(pd.key) || pd.expiring
		for r := range td.rows() {
			if !p.textRow(td, r) {
				continue
			}
			d := textDoc{file: pd, td: td, row: uint32(r)}
			if shared {
				check = append(check, d)
			} else {
				docs = append(docs, d)
			}
		}
	}
	latest, err := f.latestVersions(ctx, snaps, p.now, check)
	if err != nil {
		release()
		return nil, func() {}, err
	}
	seen := map[string]bool{}
	for _, d := range check {
		k := d.key()
		if l, ok := latest[k]; ok && l == d.td.Ingested[d.row] && !seen[k] {
			seen[k] = true
			docs = append(docs, d)
		}
	}
	// A deterministic corpus order: doc numbers break ties of equal scores.
	sort.Slice(docs, func(i, j int) bool {
		a, b := docs[i], docs[j]
		if sa, sb := a.td.System[a.row], b.td.System[b.row]; sa != sb {
			return sa < sb
		}
		return a.td.ID[a.row] < b.td.ID[b.row]
	})
	in := make([]fulltext.Doc, len(docs))
	for i, d := range docs {
		in[i] = fulltext.Doc{Content: d.td.Content[d.row], Tags: d.td.Tags[d.row]}
	}
	hits, err := fulltext.NewTexts(in).Search(fulltext.ParseQuery(p.text, fulltext.MatchAny), fulltext.Options{K: depth})
	if err != nil {
		release()
		return nil, func() {}, fmt.Errorf("search: %w", err)
	}
	out := make([]textHit, len(hits))
	for i, h := range hits {
		out[i] = textHit{doc: docs[h.Doc], bm25: h.Score}
	}
	return out, release, nil
}

// latestVersions returns the ingested_at of the latest version of the
// records of docs (system/id -> Unix micros), from the memories view as it
// is at now: a record expired by then is absent.
func (f *Function) latestVersions(ctx context.Context, snaps snapshots, now time.Time, docs []textDoc) (map[string]int64, error) {
	out := map[string]int64{}
	const chunk = 500
	for start := 0; start < len(docs); start += chunk {
		part := docs[start:min(start+chunk, len(docs))]
		sys, ids := map[string]bool{}, map[string]bool{}
		for _, d := range part {
			sys[d.td.System[d.row]] = true
			ids[d.td.ID[d.row]] = true
		}
		got, err := f.latestIngested(ctx, snaps, now, sys, ids)
		if err != nil {
			return nil, err
		}
		maps.Copy(out, got)
	}
	return out, nil
}

// hybridDepth is how deep each ranking goes before fusion: past k, so a
// record ranked modestly by both can rise above one ranked well by one.
func hybridDepth(k int) int { return min(MaxSearchK, max(50, 2*k)) }

// searchText answers modes text and hybrid here, on the current snapshot
// (or the past one of an as_of search).
func (f *Function) searchText(ctx context.Context, p *searchParams) (*SearchResponse, error) {
	if err := f.vectors.refreshIndexes(ctx, indexListTTL); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	snaps := f.searchSnapshots(p)
	snap := snaps[schemas.TableMemories]
	plan := f.planSearch(snap, p)
	depth := p.k
	if p.mode == modeHybrid {
		depth = hybridDepth(p.k)
	}
	resp := &SearchResponse{Results: []SearchResult{}, Version: snap.Version}
	th, release, err := f.rankText(ctx, snaps, plan, p, depth)
	if err != nil {
		return nil, err
	}
	defer release()
	if p.mode == modeText {
		for i, h := range th {
			r := h.doc.result()
			r.Score, r.BM25, r.Rank = float32(h.bm25), ptr(h.bm25), i+1
			resp.Results = append(resp.Results, r)
		}
		return resp, nil
	}
	// The vector ranking, at the same depth, on the same snapshot.
	pv := *p
	pv.k = depth
	vr, err := f.searchOn(ctx, snaps, plan, &pv)
	if err != nil {
		return nil, err
	}
	vec := make([]fusion.Scored[string], len(vr.Results))
	byKey := map[string]SearchResult{}
	for i, r := range vr.Results {
		k := r.SystemID + "/" + r.ID
		vec[i] = fusion.Scored[string]{Key: k, Score: float64(r.Score)}
		byKey[k] = r
	}
	txt := make([]fusion.Scored[string], len(th))
	for i, h := range th {
		k := h.doc.key()
		txt[i] = fusion.Scored[string]{Key: k, Score: h.bm25}
		if _, ok := byKey[k]; !ok {
			byKey[k] = h.doc.result()
		}
	}
	fused, err := fusion.Fuse(vec, txt, fusion.Options{Weight: p.weight, K: fusion.DefaultK, Limit: p.k})
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	for _, h := range fused {
		r := byKey[h.Key]
		r.Score, r.Rank, r.BM25, r.VectorScore = float32(h.Score), h.Rank, nil, nil
		if h.TextRank > 0 {
			r.BM25 = ptr(h.TextScore)
		}
		if h.VectorRank > 0 {
			r.VectorScore = ptr(float32(h.VectorScore))
		}
		resp.Results = append(resp.Results, r)
	}
	resp.stats = vr.stats
	return resp, nil
}

func ptr[T any](v T) *T { return &v }

// textFiltered reports whether a filter needs the text columns (tags,
// session_id), which neither FileData nor an index's rows hold.
func (p *searchParams) textFiltered() bool { return len(p.tags) > 0 || p.session != "" }

// textAllowed says, per row of pd, whether the tags and session_id filters
// pass (the other row filters are applied by the caller).
func (f *Function) textAllowed(ctx context.Context, pd *plannedData, p *searchParams) ([]bool, error) {
	td, release, err := f.vectors.textFile(ctx, pd.key, pd.size)
	if err != nil {
		return nil, err
	}
	defer release()
	ok := make([]bool, td.rows())
	for r := range ok {
		ok[r] = (p.session == "" || p.session == td.Session[r]) && p.tagsMatch(td.Tags[r])
	}
	return ok, nil
}

func allowedAt(ok []bool, row uint32) bool { return int(row) < len(ok) && ok[row] }
