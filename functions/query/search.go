package query

// Vector search (POST /v1/search, the MCP tool search_all_systems and
// `akosha search`).
//
// The search itself is package search's (functions/query/search; its
// vectors.go says a vector search's path, text.go the text ranking's):
// here are the request and response, decoding and errors, embedding, the
// tenant scope, the snapshot (latest or as_of), the answers the search
// package asks of the function (its cache and store, the key index, the
// latest versions in DuckDB, the rows of the hits) and the dispatch by
// mode and to the tier stores.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/akosha/akosha/functions/query/search"
	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/lake/vecindex"
	"github.com/akosha/akosha/schemas"
)

// Search limits.
const (
	DefaultSearchK = search.DefaultK
	MaxSearchK     = search.MaxK
	maxSearchBody  = 1 << 20
)

// SearchRequest is the body of POST /v1/search. Exactly one of Vector and
// Text is set. K defaults to 10; Threshold (cosine, -1..1) is optional.
type SearchRequest struct {
	Vector []float64 `json:"vector,omitempty"`
	Text   string    `json:"text,omitempty"`
	// Mode is "vector", "text" (BM25 over content and tags) or "hybrid"
	// (both rankings fused, lake/fusion). The default is hybrid when there
	// is a text and a vector (given, or embedded from the text), vector when
	// only a vector is given, text when only a text is given and no
	// embeddings endpoint is configured.
	Mode string `json:"mode,omitempty"`
	// HybridWeight is the vector ranking's share in hybrid mode, in [0, 1];
	// default 0.5.
	HybridWeight *float64      `json:"hybrid_weight,omitempty"`
	K            *int          `json:"k,omitempty"`
	Threshold    *float64      `json:"threshold,omitempty"`
	Filter       *SearchFilter `json:"filter,omitempty"`
	// Cache is accepted for symmetry with /v1/sql: search keeps no result
	// cache (every search reads the newest snapshot), so false changes
	// nothing.
	Cache *bool `json:"cache,omitempty"`
	// AsOf searches a past snapshot of the memories table (asof.go): a
	// version or an RFC 3339 time.
	AsOf AsOf `json:"as_of,omitempty"`
}

// SearchFilter, StringList, TagList and SearchResult are the search
// package's: the body's filter and a result are what a search takes and
// gives, encoded as they are.
type (
	SearchFilter = search.Filter
	StringList   = search.StringList
	TagList      = search.TagList
	SearchResult = search.Result
)

// query is what the request asks of the search package; as_of and cache
// are the function's.
func (r SearchRequest) query() search.Query {
	return search.Query{Vector: r.Vector, Text: r.Text, Mode: r.Mode, HybridWeight: r.HybridWeight, K: r.K,
		Threshold: r.Threshold, Filter: r.Filter}
}

// SearchResponse is the answer of POST /v1/search.
type SearchResponse struct {
	Results   []SearchResult `json:"results"`
	ElapsedMS float64        `json:"elapsed_ms"`
	Version   int64          `json:"version"`

	stats search.Stats
}

// planSearch is the search package's plan of p on snap, with the function's
// file pruning by created_at statistics.
func (f *Function) planSearch(snap *delta.Snapshot, p *searchParams) []*search.Part {
	return f.vectors.Plan(snap, &p.Params, Prune{CreatedFrom: p.FromT, CreatedTo: p.ToT}.Keep)
}

// searchParams is a validated search (search.Params) and the snapshots
// it reads.
type searchParams struct {
	search.Params

	// snaps are the past snapshots an as_of search reads; nil: the latest.
	snaps snapshots
}

// snapshots are the snapshots a search reads: the past ones of an as_of
// search, else the latest.
func (f *Function) searchSnapshots(p *searchParams) snapshots {
	if p.snaps != nil {
		return p.snaps
	}
	return f.snapshots()
}

func badRequest(code, format string, args ...any) error {
	return httpx.Errorf(http.StatusBadRequest, code, format, args...)
}

// params validates req (search.Validate), embeds its text when the search
// needs a vector and was not given one, and confines it to the caller's
// tenant.
func (f *Function) params(ctx context.Context, req SearchRequest) (*searchParams, error) {
	sp, err := search.Validate(req.query(), f.cfg.Now(), f.embed != nil)
	if err != nil {
		return nil, searchError(err)
	}
	p := &searchParams{Params: *sp}
	if p.NeedsEmbedding() {
		q, err := f.embed.embed(ctx, req.Text)
		if err != nil {
			return nil, err
		}
		p.Embedded(q)
	}
	if sc := f.scope(ctx); !sc.All() {
		p.Confine(sc)
	}
	return p, nil
}

// searchError is the API error of a search the search package refused.
func searchError(err error) error {
	var se *search.Error
	if !errors.As(err, &se) {
		return err
	}
	status := http.StatusBadRequest
	if se.Unprocessable {
		status = http.StatusUnprocessableEntity
	}
	return httpx.Errorf(status, se.Code, "%s", se.Message)
}

// decodeSearch reads a search body strictly: unknown keys (top level or in
// filter) are refused, so a misspelt filter never silently widens a search.
func decodeSearch(b []byte) (SearchRequest, error) {
	var req SearchRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		if errors.Is(err, search.ErrBadTags) {
			return req, badRequest("invalid_filter", "%v", err)
		}
		if strings.Contains(err.Error(), "unknown field") {
			return req, badRequest("unknown_field", "%v (search takes vector, text, mode, hybrid_weight, k, threshold, as_of and filter: system_id, project, kind, tier, from, to, tags, tags_all, session_id)", err)
		}
		if errors.Is(err, io.EOF) {
			return req, badRequest(httpx.CodeMalformedJSON, "request body is empty")
		}
		return req, badRequest(httpx.CodeMalformedJSON, "invalid search body: %v", err)
	}
	if dec.More() {
		return req, badRequest(httpx.CodeMalformedJSON, "body holds more than one JSON value")
	}
	return req, nil
}

func (f *Function) serveSearch(w http.ResponseWriter, r *http.Request) {
	b, err := httpx.ReadBody(w, r, maxSearchBody)
	if err != nil {
		httpx.WriteErr(w, err)
		return
	}
	req, err := decodeSearch(b)
	if err != nil {
		httpx.WriteErr(w, err)
		return
	}
	// A search a query process handed on to this tier store is marked, so
	// it is answered here and never fanned out again (fanout.go).
	ctx, err := f.searchContext(r, req)
	if err != nil {
		httpx.WriteErr(w, err)
		return
	}
	resp, err := f.Search(ctx, req)
	if err != nil {
		httpx.WriteErr(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, resp)
}

// searchLake is the lake as the search state reads it: listed in the
// function's store, read through its NVMe cache.
type searchLake struct{ f *Function }

func (l searchLake) Store() storage.Store { return l.f.lake.Store() }

func (l searchLake) ReadAll(ctx context.Context, key string, size int64) ([]byte, error) {
	return l.f.cache.ReadAll(ctx, key, size)
}

// RefreshIndexes lists the vector indexes now instead of within 5 seconds.
func (f *Function) RefreshIndexes(ctx context.Context) error {
	return f.vectors.RefreshIndexes(ctx, 0)
}

// Search answers one search on the current snapshot.
func (f *Function) Search(ctx context.Context, req SearchRequest) (*SearchResponse, error) {
	start := time.Now()
	p, err := f.params(ctx, req)
	if err != nil {
		return nil, err
	}
	if req.AsOf != "" {
		if p.snaps, err = f.snapshotsAt(ctx, req.AsOf); err != nil {
			return nil, err
		}
	}
	// With tier stores, their tiers are searched by them (fanout.go); a
	// text query was embedded above, once, and the stores get its vector.
	// A search of the past is answered here: the stores keep the latest
	// snapshot warm, and the past one is read from the lake (asof.go).
	var resp *SearchResponse
	switch {
	case p.Mode != search.ModeVector:
		// Text and hybrid searches are answered here: BM25 needs the
		// statistics of the whole corpus (tier stores do not fuse yet).
		resp, err = f.searchText(ctx, p)
	case f.fansOut(ctx) && p.snaps == nil:
		resp, err = f.fanOut(ctx, req, p)
	default:
		resp, err = f.searchLocal(ctx, p)
	}
	if err != nil && p.snaps != nil && errors.Is(err, storage.ErrNotExist) && f.isPast(p.snaps) {
		return nil, pastDataGone()
	}
	if err != nil {
		return nil, err
	}
	resp.ElapsedMS = float64(time.Since(start).Microseconds()) / 1000
	return resp, nil
}

// searchLocal answers a validated search here, on the current snapshot
// (or the past one of an as_of search).
func (f *Function) searchLocal(ctx context.Context, p *searchParams) (*SearchResponse, error) {
	if err := f.vectors.RefreshIndexes(ctx, search.IndexListTTL); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	snaps := f.searchSnapshots(p)
	return f.searchOn(ctx, snaps, f.planSearch(snaps[schemas.TableMemories], p), p)
}

// searchOn answers a vector search of plan, on snaps.
func (f *Function) searchOn(ctx context.Context, snaps snapshots, plan []*search.Part, p *searchParams) (*SearchResponse, error) {
	snap := snaps[schemas.TableMemories]
	// A past snapshot has its own key index (asof.go); the vector indexes
	// were planned against its live files like the latest's: rows of files
	// not live in it are skipped, its files no index covers are scanned.
	keyIdx := f.keysFor(schemas.TableMemories, snap)
	resp := &SearchResponse{Results: []SearchResult{}, Version: snap.Version}
	err := f.vectors.Vectors(ctx, snap, plan, &p.Params, keyIdx, snapshotVersions{f, snaps, p.Now}, searchHits{f}, &resp.Results, &resp.stats)
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func quoteList(set map[string]bool) string {
	vals := make([]string, 0, len(set))
	for v := range set {
		vals = append(vals, quote(v))
	}
	sort.Strings(vals)
	return strings.Join(vals, ", ")
}

// searchHits reads the final hits of a search for the search package
// (search.Hits), through hitsAt.
type searchHits struct{ f *Function }

func (h searchHits) HitsAt(ctx context.Context, pd *search.File, rows []uint32) ([]vecindex.Hit, error) {
	return h.f.hitsAt(ctx, pd, rows)
}

// hitsAt reads rows of one data file: from its cached file when the NVMe
// cache holds it (a few pages read, through the file's kept footer), else
// with ranged GETs of those pages while the cache fetches the whole file
// in the background for the next search. A cold search at 1M vectors would
// otherwise download a whole file (7.5 MB) for each of its hits.
func (f *Function) hitsAt(ctx context.Context, pd *search.File, rows []uint32) ([]vecindex.Hit, error) {
	if !f.cache.Has(pd.Key) {
		f.cache.Prefetch(pd.Key, pd.Size)
		rr, err := storage.NewRangeReader(ctx, f.lake.Store(), pd.Key, pd.Size)
		if err != nil {
			return nil, err
		}
		return vecindex.HitsAt(ctx, rr, pd.Size, rows)
	}
	path, release, err := f.cache.Path(ctx, pd.Key, pd.Size)
	if err != nil {
		return nil, err
	}
	defer release()
	// The file is open for this call only: a kept footer holds no handle,
	// so nothing keeps a forgotten file's bytes readable.
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	file := f.footers.Get(pd.Key)
	if file == nil {
		if file, err = vecindex.OpenFile(fh, pd.Size); err != nil {
			return nil, err
		}
		// Kept while the lease pins the file: the cache removes it, and
		// so drops the footer (OnRemove), only once unpinned.
		f.footers.Put(pd.Key, file)
	}
	return file.HitsAt(ctx, fh, rows)
}

// snapshotVersions answers the search package's latest-version questions
// (search.Versions) on snaps as they are at now.
type snapshotVersions struct {
	f     *Function
	snaps snapshots
	now   time.Time
}

func (v snapshotVersions) LatestIngested(ctx context.Context, sys, ids map[string]bool) (map[string]int64, error) {
	return v.f.latestIngested(ctx, v.snaps, v.now, sys, ids)
}

// latestIngested returns the ingested_at (Unix micros) of the latest
// version of the records named by the systems and ids given, keyed
// "system/id", from the memories view as it is at now: latest wins, and a
// record expired by then is absent. Vector and text search resolve the
// candidates that may be older versions with it.
func (f *Function) latestIngested(ctx context.Context, snaps snapshots, now time.Time, sys, ids map[string]bool) (map[string]int64, error) {
	sql := "SELECT system_id, id, ingested_at FROM memories WHERE system_id IN (" + quoteList(sys) +
		") AND id IN (" + quoteList(ids) + ")"
	res, err := f.runAt(ctx, snaps, now, sql, len(sys)*len(ids)+1)
	if err != nil {
		return nil, fmt.Errorf("search: resolve re-sent records: %w", sqlError(err))
	}
	out := make(map[string]int64, len(res.Rows))
	for _, row := range res.Rows {
		s, _ := row[0].(string)
		id, _ := row[1].(string)
		ts, _ := row[2].(string)
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return nil, fmt.Errorf("search: resolve re-sent records: ingested_at %q: %w", ts, err)
		}
		out[s+"/"+id] = t.UnixMicro()
	}
	return out, nil
}
