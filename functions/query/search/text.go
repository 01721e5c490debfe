package search

// Full-text and hybrid search (issue 23): mode "text" ranks by BM25 over
// content and tags (lake/fulltext); mode "hybrid" fuses that ranking with
// the vector search's by weighted reciprocal rank (lake/fusion).
//
// The text ranking, on one snapshot of the memories table:
//
//  1. Files are planned as for vector search (State.Plan: tier, day and
//     system_id pruning, and per tier the index segments vecindex.Segments
//     chooses). A chosen segment whose manifest names a full-text segment
//     (vecindex.Manifest.Text) is searched through it for its kept live
//     files; every other kept file (no segment covers it, or its segment
//     predates full-text segments, or vacuum deleted it under this search)
//     is read (its text columns, decoded once and cached: TextData) and
//     scored exactly. The full-text segments are read through the NVMe
//     cache into a byte-bounded LRU, like the graphs; their rows table is
//     the graph's (LoadedIndex), so doc n is node n.
//  2. Rows pass the row filter (system and tenant, project, kind,
//     created_at range, tags, session_id): a segment's documents by its
//     rows table, plus the file's text columns when tags or session_id are
//     filtered; a document in a file that is no longer live (or pruned) is
//     never admitted. A covered file's rows that are not nodes (older
//     versions, rows without an embedding) are in no segment: they are
//     scored exactly with the uncovered files' rows.
//  3. Latest wins, before scoring, since BM25's statistics depend on the
//     corpus: rows (documents) of files sharing a record key with another
//     live file, or that may have expired, are resolved with one statement
//     over the memories view (as vector search resolves its candidates); a
//     row survives only if it is its record's latest version. The others
//     are unique among live files.
//  4. The surviving rows are the corpus, searched as one: each segment
//     through fulltext.Filtered (the admitted documents, Options.Allow
//     inside the search), the rest through fulltext.Texts, all scored with
//     their merged statistics (MatchAny, the exact top k; equal scores by
//     record key, RankSources).
//
// Corpus statistics are exact: documents, average length and document
// frequencies count exactly the records the search admits, never a
// superseded version, a dead file's row, another tenant's record or one the
// filter hides (fulltext.Segment.StatsAllowed). So a search ranks and
// scores the same whether the index job has built segments or not, and a
// tenant's scores say nothing of other tenants' texts. The price is a pass
// over each searched segment's rows table per query (no text is read), a
// walk of the query terms' postings in it, and, as before segments, the
// latest-version statement for shared files. Approximating with each
// segment's whole statistics would break both properties, so it is not
// done; but a segment all of whose documents the search admits is
// searched with its stored statistics, which are then the exact ones
// (segmentSource), and unfiltered.

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/fulltext"
	"github.com/akosha/akosha/schemas"
)

// textDoc is one row of the text corpus.
type textDoc struct {
	file *File
	td   *TextData
	row  uint32
}

func (d textDoc) key() string { return d.td.System[d.row] + "/" + d.td.ID[d.row] }

func (d textDoc) result() Result {
	r := d.row
	return Result{
		SystemID: d.td.System[r], ID: d.td.ID[r], Kind: d.td.Kind[r], Content: d.td.Content[r],
		CreatedAt: schemas.FormatTime(time.UnixMicro(d.td.Created[r])), Tier: d.file.Partition.Tier, Project: d.td.Project[r],
	}
}

// TextHit is one hit of the text ranking.
type TextHit struct {
	doc  textDoc
	BM25 float64
}

// Result is the hit as a search result (its BM25 score not set).
func (h TextHit) Result() Result { return h.doc.result() }

// RankText returns the best depth records for p.Text by BM25 (see the top
// of this file). release frees the decoded files and segments the hits
// point into.
func (s *State) RankText(ctx context.Context, snap *delta.Snapshot, plan []*Part, p *Params, depth int, keyIdx KeyIndex, v Versions, st *Stats) ([]TextHit, func(), error) {
	var (
		mu       sync.Mutex
		releases []func()
	)
	hold := func(rel func()) {
		mu.Lock()
		releases = append(releases, rel)
		mu.Unlock()
	}
	release := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range releases {
			r()
		}
		releases = nil
	}
	fail := func(err error) ([]TextHit, func(), error) {
		release()
		return nil, func() {}, fmt.Errorf("search: %w", err)
	}

	// Step 1: the segments to search, and the files to score exactly.
	var exact []*File
	var segs []*textSeg
	for _, pp := range plan {
		switch {
		case pp.Index == nil:
			exact = append(exact, pp.Scan...)
		case pp.Index.Text.Key == "" || !pp.Index.RowKeys:
			// Built before full-text segments: scored exactly.
			exact = append(exact, coveredKept(pp)...)
		default:
			segs = append(segs, &textSeg{pp: pp})
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	keys := keyIdx
	g.Go(func() error { return keys.Sync(gctx, schemas.TableMemories, snap, p.Systems, nil) })
	for _, ts := range segs {
		g.Go(func() error { return s.loadTextSeg(gctx, ts, hold) })
	}
	if err := g.Wait(); err != nil {
		return fail(err)
	}
	kept := segs[:0]
	for _, ts := range segs {
		if ts.gone {
			// Vacuum deleted it under this search (listings lag by up
			// to IndexListTTL): its files are scored exactly.
			exact = append(exact, coveredKept(ts.pp)...)
			continue
		}
		kept = append(kept, ts)
	}
	segs = kept
	st.TextSegments, st.TextFiles = len(segs), len(exact)

	// Step 2: the text columns of the files scored exactly, and of the
	// covered files whose rows the segment cannot filter or hold alone.
	need := map[*File]bool{}
	for _, pd := range exact {
		need[pd] = true
	}
	for _, ts := range segs {
		for i, pd := range ts.pp.Files {
			if pd != nil && (p.TextFiltered() || ts.others[i] > 0) {
				need[pd] = true
			}
		}
	}
	tds := map[*File]*TextData{}
	if err := s.loadTextFiles(ctx, need, tds, hold); err != nil {
		return fail(err)
	}

	// Step 3: the row filter and latest wins, before scoring.
	var docs []textDoc
	var checks []VersionCheck
	exactRow := func(pd *File, td *TextData, r int, shared bool) {
		if !p.TextRow(td, r) {
			return
		}
		d := textDoc{file: pd, td: td, row: uint32(r)}
		if !shared {
			docs = append(docs, d)
			return
		}
		checks = append(checks, VersionCheck{System: td.System[r], ID: td.ID[r], Ingested: td.Ingested[r],
			Admit: func() { docs = append(docs, d) }})
	}
	for _, pd := range exact {
		// Rows of a file sharing keys with another may be older versions,
		// and rows of an expiring file may have expired: both are checked
		// against the memories view (latest wins, expired rows hidden).
		shared := keys.Shared(pd.Key) || pd.Expiring
		td := tds[pd]
		for r := range td.Rows() {
			exactRow(pd, td, r, shared)
		}
	}
	rf := p.RowFilter()
	for _, ts := range segs {
		rows, files := ts.ix.Rows, ts.pp.Files
		ts.adm = make([]bool, rows.Len())
		// A covered file's rows that are not nodes (older versions, rows
		// without an embedding) are in no segment: scored exactly, once
		// the nodes among its rows are known.
		nodeRows := make([][]bool, len(files))
		shared := make([]bool, len(files))
		for fi, pd := range files {
			if pd == nil {
				continue
			}
			shared[fi] = keys.Shared(pd.Key) || pd.Expiring
			if ts.others[fi] > 0 {
				nodeRows[fi] = make([]bool, tds[pd].Rows())
			}
		}
		for n := range rows.Len() {
			fi, r := rows.File[n], rows.Pos[n]
			pd := files[fi]
			if pd == nil {
				continue // not live, or pruned: none of its rows can match
			}
			if nr := nodeRows[fi]; nr != nil && int(r) < len(nr) {
				nr[r] = true
			}
			system := rows.Systems[rows.System[n]]
			if rf != nil && !rf(system, rows.Kinds[rows.Kind[n]], rows.Projects[rows.Project[n]], rows.Created[n]) {
				continue
			}
			if p.TextFiltered() {
				td := tds[pd]
				if int(r) >= td.Rows() || (p.Session != "" && p.Session != td.Session[r]) || !p.TagsMatch(td.Tags[r]) {
					continue
				}
			}
			if !shared[fi] {
				ts.adm[n] = true
				continue
			}
			adm := ts.adm
			checks = append(checks, VersionCheck{System: system, ID: rows.ID[n], Ingested: rows.Ingested[n],
				Admit: func() { adm[n] = true }})
		}
		for fi, nr := range nodeRows {
			if nr == nil {
				continue
			}
			pd := files[fi]
			td := tds[pd]
			for r := range td.Rows() {
				if !nr[r] {
					exactRow(pd, td, r, shared[fi])
				}
			}
		}
	}
	if err := AdmitLatest(ctx, v, checks); err != nil {
		return fail(err)
	}

	// Step 4: one BM25 corpus of the segments' admitted documents and the
	// documents scored exactly, with their merged statistics. The exact
	// documents in key order, so that a search is reproducible (ties are
	// broken by key in RankSources anyway).
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
	srcs := make([]fulltext.Searcher, 0, len(segs)+1)
	for _, ts := range segs {
		src, whole := segmentSource(ts.seg, ts.adm)
		if whole {
			st.TextStored++
		}
		srcs = append(srcs, src)
	}
	srcs = append(srcs, fulltext.NewTexts(in))
	keyOf := func(src int, doc uint32) string {
		if src == len(segs) {
			return docs[doc].key()
		}
		rows := segs[src].ix.Rows
		return rows.Systems[rows.System[doc]] + "/" + rows.ID[doc]
	}
	hits, err := RankSources(fulltext.ParseQuery(p.Text, fulltext.MatchAny), depth, srcs, keyOf)
	if err != nil {
		return fail(err)
	}

	// Step 5: the segments' hits are read from their data files' text
	// columns (the content of the results).
	loading := map[*File]bool{}
	for _, h := range hits {
		if h.Source == len(segs) {
			continue
		}
		ts := segs[h.Source]
		if pd := ts.pp.Files[ts.ix.Rows.File[h.Doc]]; tds[pd] == nil {
			loading[pd] = true
		}
	}
	if err := s.loadTextFiles(ctx, loading, tds, hold); err != nil {
		return fail(err)
	}
	out := make([]TextHit, len(hits))
	for i, h := range hits {
		if h.Source == len(segs) {
			out[i] = TextHit{doc: docs[h.Doc], BM25: h.Score}
			continue
		}
		ts := segs[h.Source]
		rows := ts.ix.Rows
		pd := ts.pp.Files[rows.File[h.Doc]]
		td, r := tds[pd], rows.Pos[h.Doc]
		if int(r) >= td.Rows() {
			return fail(fmt.Errorf("index %s names row %d of %s, which has %d", ts.pp.Index.Key, r, pd.Key, td.Rows()))
		}
		out[i] = TextHit{doc: textDoc{file: pd, td: td, row: r}, BM25: h.Score}
	}
	return out, release, nil
}

// segmentSource is the searcher of the documents of seg that adm (per doc
// number) admits. When adm admits every one of them (no row filter or
// tenant scope hides one, every file is live and kept, none is an older
// version or has expired), the statistics StatsAllowed would count are
// the segment's own, stored ones: whole, it is searched unfiltered, with
// them, and no pass over its documents and the query terms' postings is
// made per search. The scores are the same (the segment's stored counts
// are its documents', checked once as it loads: State.TextSegment).
func segmentSource(seg *fulltext.Segment, adm []bool) (src fulltext.Searcher, whole bool) {
	whole = len(adm) == int(seg.DocSpan()) && int64(len(adm)) == seg.Docs()
	for _, ok := range adm {
		if !ok {
			whole = false
			break
		}
	}
	if whole {
		return fulltext.Filtered{Seg: seg}, true
	}
	return fulltext.Filtered{Seg: seg, Allow: func(d uint32) bool { return int(d) < len(adm) && adm[d] }}, false
}

// textSeg is one index segment a text search goes through: its rows (the
// graph's side table, shared with vector search), its full-text segment,
// and per doc whether the search admits it.
type textSeg struct {
	pp     *Part
	ix     *LoadedIndex
	seg    *fulltext.Segment
	others []int // per covered file: its rows that are not nodes
	adm    []bool
	gone   bool // vacuum deleted an object of it: its files are scored exactly
}

// loadTextFiles decodes the text columns of files (through the cache, in
// parallel) into tds, handing each file's release to hold.
func (s *State) loadTextFiles(ctx context.Context, files map[*File]bool, tds map[*File]*TextData, hold func(func())) error {
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for pd := range files {
		g.Go(func() error {
			td, rel, err := s.TextFile(gctx, pd.Key, pd.Size)
			if err != nil {
				return err
			}
			hold(rel)
			mu.Lock()
			tds[pd] = td
			mu.Unlock()
			return nil
		})
	}
	return g.Wait()
}

// loadTextSeg loads the rows and the full-text segment of ts's index,
// through the caches vector search uses; hold keeps them until the search
// releases.
func (s *State) loadTextSeg(ctx context.Context, ts *textSeg, hold func(func())) error {
	m := ts.pp.Index
	ix, rel, err := s.Index(ctx, m)
	if IndexGone(err) {
		ts.gone = true
		return nil
	}
	if err != nil {
		return err
	}
	hold(rel)
	seg, rel, err := s.TextSegment(ctx, m)
	if IndexGone(err) {
		ts.gone = true
		return nil
	}
	if err != nil {
		return err
	}
	hold(rel)
	if n := ix.Rows.Len(); seg.Docs() != int64(n) || seg.DocSpan() != uint32(n) {
		return fmt.Errorf("index %s: a full-text segment of %d documents for %d nodes", m.Key, seg.Docs(), n)
	}
	others := make([]int, len(m.Files))
	for _, fi := range ix.Rows.OtherFile { // in range: checked as the rows loaded
		others[fi]++
	}
	ts.ix, ts.seg, ts.others = ix, seg, others
	return nil
}

// coveredKept are the live kept files of pp's index, to score exactly.
func coveredKept(pp *Part) []*File {
	var out []*File
	for _, pd := range pp.Files {
		if pd != nil {
			out = append(out, pd)
		}
	}
	return out
}
