package query

// Search fan-out to the tier stores.
//
// A query process given tier stores (AKOSHA_TIER_STORES) hands the search of
// each tier that has a store to that store, which keeps the tier's Parquet
// files and indexes warm in its persistent cache:
//
//  1. The request is validated and a text query embedded here, once; every
//     store gets the same search with the query's vector (so stores need no
//     embeddings endpoint) and filter.tier narrowed to its tier. Tiers the
//     caller's filter excludes are not asked at all.
//  2. Tiers without a store are searched here, in one local search narrowed
//     to them, while the stores work.
//  3. A store that fails, answers badly or exceeds its timeout is replaced
//     by searching its tier here (correct, only slower): counted in
//     akosha_query_tier_store_fallbacks_total{tier} and logged.
//  4. The answers are merged: one entry per record, threshold applied, the
//     best k by score (ties by system_id, then id, as a local search orders
//     them).
//
// Loops: a store never fans out. A process pinned to a tier (AKOSHA_TIER)
// always searches locally, whatever AKOSHA_TIER_STORES says, and a handed-on
// search carries the X-Akosha-Forwarded header, so even a misconfigured
// store URL that names another front-end process searches there and stops.
//
// Consistency: each answer comes from the snapshot of the process that gave
// it. A handed-on search carries this process's snapshot version in
// X-Akosha-Min-Version and the store catches up to it first, so an answer is
// never older than this process's view (read-your-writes holds as for a
// local search). Stores may be ahead, though, and the age job moves a
// partition between tiers in one commit: an answer from before the move and
// one from after it could show the partition's records twice (both tiers) or
// not at all (neither). So when the answers' versions differ and a commit in
// between moved files across two of the searched tiers, the answers that
// were behind are asked again at the newest version (at most twice). A
// record still found in two answers keeps the entry from the newer snapshot
// (it says where the record lives now), and on equal versions the higher
// score.
//
// Credentials: stores run with the same auth configuration, so the caller's
// own Authorization or X-API-Key header is handed on: a store sees the
// caller, with its role, system limits and rate limit.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

const (
	// headerForwarded marks a search a query process handed on to a tier
	// store: it is answered where it arrives, never fanned out again.
	headerForwarded = "X-Akosha-Forwarded"
	// headerMinVersion is the memories snapshot version the store must
	// have caught up with before it answers.
	headerMinVersion = "X-Akosha-Min-Version"

	// tierStoreTimeout bounds one store's answer. It is generous: a store
	// normally answers from a warm cache, and a timeout means searching
	// the tier here from S3, which is slower still.
	tierStoreTimeout = 10 * time.Second
	// maxCatchUpRounds bounds how often answers behind a cross-tier move
	// are asked again.
	maxCatchUpRounds = 2
	// maxMoveCheck is the widest version range whose commits are read to
	// look for cross-tier moves; wider ranges are assumed to hold one.
	maxMoveCheck = 64
	// maxMoveCache bounds the remembered commit classifications.
	maxMoveCache = 4096
	// maxStoreAnswer caps a store's answer body (k contents of up to 1 MiB
	// each, JSON-escaped); a larger one is refused and the tier searched
	// here.
	maxStoreAnswer = 256 << 20
	// maxStoreError caps how much of a failed store answer is kept for the
	// log.
	maxStoreError = 4 << 10
	// fallbackLogEvery spaces the warnings about one tier's fallbacks: a
	// store that is down fails every search, and the counter has them all.
	fallbackLogEvery = 10 * time.Second
)

// allTiers are the tier partition values, in search order.
var allTiers = []string{schemas.TierHot, schemas.TierWarm, schemas.TierCold}

// fanout is a front-end process's link to its tier stores.
type fanout struct {
	stores  map[string]string // tier -> base URL
	client  *http.Client
	timeout atomic.Int64 // per-store timeout (a time.Duration); tests shorten it

	warned map[string]*atomic.Int64 // tier -> Unix nanoseconds of the last fallback warning

	mu    sync.Mutex
	moves map[int64][]string // memories commit version -> tiers it moved files between (nil: none)
}

// newFanout returns nil when the process does not fan out: it has no tier
// stores, or it is a store itself (AKOSHA_TIER wins over AKOSHA_TIER_STORES,
// which then only serves its reads of the other tiers).
func newFanout(cfg Config) *fanout {
	if cfg.Tier != "" || len(cfg.TierStores) == 0 {
		return nil
	}
	fo := &fanout{stores: map[string]string{}, warned: map[string]*atomic.Int64{}, moves: map[int64][]string{}}
	fo.timeout.Store(int64(tierStoreTimeout))
	for tier, base := range cfg.TierStores {
		if !slices.Contains(allTiers, tier) {
			slog.Warn("tier store for an unknown tier: ignored for search", "tier", tier, "store", base)
			continue
		}
		fo.stores[tier] = base
		fo.warned[tier] = new(atomic.Int64)
	}
	if len(fo.stores) == 0 {
		return nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Every search may talk to each store at once: keep enough idle
	// connections per store that concurrent searches reuse them.
	tr.MaxIdleConnsPerHost = 64
	fo.client = &http.Client{Transport: tr}
	return fo
}

type forwardedKey struct{}
type credentialsKey struct{}

// credentialHeaders are the request headers that carry a caller's
// credential (internal/auth reads these two).
var credentialHeaders = []string{"Authorization", "X-API-Key"}

// withCredentials returns ctx carrying h's credential headers, so that a
// search handed on to a tier store is made as the caller.
func withCredentials(ctx context.Context, h http.Header) context.Context {
	creds := http.Header{}
	for _, name := range credentialHeaders {
		if v := h.Get(name); v != "" {
			creds.Set(name, v)
		}
	}
	if len(creds) == 0 {
		return ctx
	}
	return context.WithValue(ctx, credentialsKey{}, creds)
}

// keepCredentials is middleware for routes that reach Search without
// serveSearch (MCP's search_all_systems): it keeps the caller's credential
// in the request context.
func keepCredentials(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(withCredentials(r.Context(), r.Header)))
	})
}

// searchContext is the context serveSearch searches in: the caller's
// credential kept for handing on, and for a search handed on by another
// query process, marked so that it is answered here, after catching up with
// the sender's snapshot. A store refuses a handed-on search for another
// tier (421 wrong_tier): that is a misconfigured AKOSHA_TIER_STORES, which
// the sender then reports and works around.
func (f *Function) searchContext(r *http.Request, req SearchRequest) (context.Context, error) {
	ctx := withCredentials(r.Context(), r.Header)
	if r.Header.Get(headerForwarded) == "" {
		return ctx, nil
	}
	ctx = context.WithValue(ctx, forwardedKey{}, true)
	if f.cfg.Tier != "" && (req.Filter == nil || len(req.Filter.Tier) != 1 || req.Filter.Tier[0] != f.cfg.Tier) {
		return nil, httpx.Errorf(http.StatusMisdirectedRequest, "wrong_tier",
			"this tier store searches the %s tier only", f.cfg.Tier)
	}
	if s := r.Header.Get(headerMinVersion); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			return nil, badRequest("invalid_header", "%s: want a version number, got %q", headerMinVersion, truncate(s, 40))
		}
		if err := f.catchUp(ctx, v); err != nil {
			return nil, err
		}
	}
	return ctx, nil
}

// catchUp refreshes the memories snapshot when it is older than version.
func (f *Function) catchUp(ctx context.Context, version int64) error {
	t, err := f.lake.Table(schemas.TableMemories)
	if err != nil {
		return err
	}
	if t.Cached().Version >= version {
		return nil
	}
	if _, err := t.Refresh(ctx); err != nil {
		return fmt.Errorf("search: catch up with version %d: %w", version, err)
	}
	return nil
}

// fansOut reports whether a search in ctx goes to the tier stores.
func (f *Function) fansOut(ctx context.Context) bool {
	return f.fanout != nil && ctx.Value(forwardedKey{}) == nil
}

// searchPart is one piece of a fanned-out search: one store's tier, or the
// tiers searched here.
type searchPart struct {
	tier  string          // the store's tier; "" for the local part
	store string          // the store's base URL; "" for the local part
	tiers map[string]bool // the tiers the part covers
	body  []byte          // the handed-on request (store parts)
	resp  *SearchResponse
	local bool // answered here (the local part, or a store's fallback)
}

// fanOut answers a validated search through the tier stores (see the top of
// this file).
func (f *Function) fanOut(ctx context.Context, req SearchRequest, p *searchParams) (*SearchResponse, error) {
	var parts []*searchPart
	localTiers := map[string]bool{}
	searched := map[string]bool{}
	for _, tier := range allTiers {
		if p.Tiers != nil && !p.Tiers[tier] {
			continue
		}
		searched[tier] = true
		base, ok := f.fanout.stores[tier]
		if !ok {
			localTiers[tier] = true
			continue
		}
		body, err := forwardBody(req, p, tier)
		if err != nil {
			return nil, err
		}
		parts = append(parts, &searchPart{tier: tier, store: base, tiers: map[string]bool{tier: true}, body: body})
	}
	if len(parts) == 0 {
		// The filter keeps only tiers without a store.
		return f.searchLocal(ctx, p)
	}
	if len(localTiers) > 0 {
		parts = append(parts, &searchPart{tiers: localTiers, local: true})
	}

	t, err := f.lake.Table(schemas.TableMemories)
	if err != nil {
		return nil, err
	}
	if err := f.runParts(ctx, parts, p, t.Cached().Version); err != nil {
		return nil, err
	}
	for range maxCatchUpRounds {
		lo, hi := versionRange(parts)
		if lo == hi {
			break
		}
		moved, err := f.movedBetween(ctx, lo, hi, searched)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// Unknown: assume the worst and ask again, which is only
			// slower.
			slog.Warn("search: cannot tell whether tiers moved between the answers' snapshots",
				"from", lo, "to", hi, "err", err)
			moved = true
		}
		if !moved {
			break
		}
		var behind []*searchPart
		for _, pt := range parts {
			if pt.resp.Version < hi {
				behind = append(behind, pt)
			}
		}
		if err := f.runParts(ctx, behind, p, hi); err != nil {
			return nil, err
		}
	}
	return mergeParts(parts, p), nil
}

// forwardBody is the search a store gets for tier: the caller's, with the
// (embedded) query vector instead of text and filter.tier narrowed to tier.
func forwardBody(req SearchRequest, p *searchParams, tier string) ([]byte, error) {
	fl := SearchFilter{}
	if req.Filter != nil {
		fl = *req.Filter
	}
	fl.Tier = StringList{tier}
	vec := make([]float64, len(p.Q))
	for i, x := range p.Q {
		vec[i] = float64(x) // exact: a float64 holds every float32
	}
	k := p.K
	b, err := json.Marshal(SearchRequest{Vector: vec, K: &k, Threshold: req.Threshold, Filter: &fl})
	if err != nil {
		return nil, fmt.Errorf("search: encode the request for the %s store: %w", tier, err)
	}
	return b, nil
}

// runParts answers parts concurrently; stores are asked to be at least at
// minVersion, and the local searches catch up with it. Only a failure to
// search here fails the search: a store's failure is a fallback.
func (f *Function) runParts(ctx context.Context, parts []*searchPart, p *searchParams, minVersion int64) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, pt := range parts {
		g.Go(func() error { return f.runPart(gctx, pt, p, minVersion) })
	}
	return g.Wait()
}

func (f *Function) runPart(ctx context.Context, pt *searchPart, p *searchParams, minVersion int64) error {
	if !pt.local {
		resp, err := f.fanout.ask(ctx, pt.tier, pt.store, pt.body, minVersion, p.K)
		if err == nil {
			pt.resp = resp
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err() // the caller is gone, or another part failed
		}
		f.metrics.tierStoreFallbacks.WithLabelValues(pt.tier).Inc()
		if last, now := f.fanout.warned[pt.tier], time.Now().UnixNano(); now-last.Load() >= int64(fallbackLogEvery) {
			last.Store(now)
			slog.Warn("search: tier store failed; searching its tier here (warned at most every 10s per tier)",
				"tier", pt.tier, "store", pt.store, "err", err)
		}
		// Later rounds search this tier here too: the store just failed.
		pt.local = true
	}
	if err := f.catchUp(ctx, minVersion); err != nil {
		return err
	}
	lp := *p
	lp.Tiers = pt.tiers
	resp, err := f.searchLocal(ctx, &lp)
	if err != nil {
		return err
	}
	pt.resp = resp
	return nil
}

// ask sends one tier's search to its store and checks its answer.
func (fo *fanout) ask(ctx context.Context, tier, base string, body []byte, minVersion int64, k int) (*SearchResponse, error) {
	timeout := time.Duration(fo.timeout.Load())
	if dl, ok := ctx.Deadline(); ok {
		// Leave half of what remains for searching the tier here, should
		// the store fail.
		if half := time.Until(dl) / 2; half < timeout {
			timeout = half
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/search", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("tier store %s: %w", tier, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set(headerForwarded, "search")
	req.Header.Set(headerMinVersion, strconv.FormatInt(minVersion, 10))
	if creds, ok := ctx.Value(credentialsKey{}).(http.Header); ok {
		for name, vals := range creds {
			req.Header[name] = vals
		}
	}
	resp, err := fo.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("tier store %s: %w", tier, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxStoreError))
		return nil, fmt.Errorf("tier store %s answered %s: %s", tier, resp.Status, strings.TrimSpace(string(msg)))
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxStoreAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("tier store %s: read the answer: %w", tier, err)
	}
	if len(b) > maxStoreAnswer {
		return nil, fmt.Errorf("tier store %s: answer larger than %d bytes", tier, maxStoreAnswer)
	}
	ans, err := decodeStoreAnswer(b, tier, k)
	if err != nil {
		return nil, fmt.Errorf("tier store %s: %w", tier, err)
	}
	return ans, nil
}

// decodeStoreAnswer reads a store's answer: one search answer, at most k
// results, all of the asked tier with finite scores. Fields it does not
// know are ignored, as clients of the public API ignore them: during a
// rolling upgrade a newer store may answer with more, and refusing that
// would send every search of the upgrade down the fallback path.
func decodeStoreAnswer(b []byte, tier string, k int) (*SearchResponse, error) {
	var ans struct {
		Results   []SearchResult `json:"results"`
		ElapsedMS float64        `json:"elapsed_ms"`
		Version   int64          `json:"version"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&ans); err != nil {
		return nil, fmt.Errorf("decode the answer: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode the answer: more than one JSON value")
	}
	if len(ans.Results) > k {
		return nil, fmt.Errorf("%d results, asked for %d", len(ans.Results), k)
	}
	for i, r := range ans.Results {
		if r.Tier != tier || r.SystemID == "" || r.ID == "" || math.IsNaN(float64(r.Score)) || math.IsInf(float64(r.Score), 0) {
			return nil, fmt.Errorf("result %d (%q/%q, tier %q, score %v) does not fit the %s tier's search",
				i, truncate(r.SystemID, 100), truncate(r.ID, 200), truncate(r.Tier, 20), r.Score, tier)
		}
	}
	return &SearchResponse{Results: ans.Results, Version: ans.Version}, nil
}

// versionRange is the oldest and newest snapshot version the parts
// answered from.
func versionRange(parts []*searchPart) (lo, hi int64) {
	lo, hi = math.MaxInt64, math.MinInt64
	for _, pt := range parts {
		lo, hi = min(lo, pt.resp.Version), max(hi, pt.resp.Version)
	}
	return lo, hi
}

// movedBetween reports whether a commit in (lo, hi] of the memories log
// moved files between two of tiers (an age move: removes in one tier, adds
// in another). Commits are immutable, so each is read and classified once.
func (f *Function) movedBetween(ctx context.Context, lo, hi int64, tiers map[string]bool) (bool, error) {
	if hi-lo > maxMoveCheck {
		return true, nil
	}
	t, err := f.lake.Table(schemas.TableMemories)
	if err != nil {
		return true, err
	}
	moved := make([][]string, hi-lo)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for v := lo + 1; v <= hi; v++ {
		g.Go(func() error {
			ts, err := f.fanout.commitTiers(gctx, t.Log, v)
			moved[v-lo-1] = ts
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return true, err
	}
	for _, ts := range moved {
		n := 0
		for _, tier := range ts {
			if tiers[tier] {
				n++
			}
		}
		if n >= 2 {
			return true, nil
		}
	}
	return false, nil
}

// commitTiers returns the tiers commit v moved files between, nil when it
// moved none (appends, compactions within a tier, retention deletes).
func (fo *fanout) commitTiers(ctx context.Context, log *delta.Table, v int64) ([]string, error) {
	fo.mu.Lock()
	ts, ok := fo.moves[v]
	fo.mu.Unlock()
	if ok {
		return ts, nil
	}
	acts, err := log.ReadCommit(ctx, v)
	if err != nil {
		return nil, fmt.Errorf("search: read commit %d: %w", v, err)
	}
	removed, all := map[string]bool{}, map[string]bool{}
	for _, a := range acts {
		switch {
		case a.Remove != nil:
			tier := storage.TierOfKey(a.Remove.DecodedPath())
			removed[tier], all[tier] = true, true
		case a.Add != nil:
			all[storage.TierOfKey(a.Add.DecodedPath())] = true
		}
	}
	ts = nil
	if len(removed) > 0 && len(all) > 1 {
		for tier := range all {
			ts = append(ts, tier)
		}
		sort.Strings(ts)
	}
	fo.mu.Lock()
	defer fo.mu.Unlock()
	if len(fo.moves) >= maxMoveCache {
		clear(fo.moves) // rarely reached: ranges are short and recent
	}
	fo.moves[v] = ts
	return ts, nil
}

// mergeParts merges the parts' answers into one: one entry per record (from
// the newer snapshot, then the higher score), the threshold applied, the
// best k by score, ties by system_id, then id.
func mergeParts(parts []*searchPart, p *searchParams) *SearchResponse {
	type entry struct {
		r       SearchResult
		version int64
	}
	type key struct{ sys, id string }
	best := map[key]entry{}
	out := &SearchResponse{Results: []SearchResult{}}
	out.Version = math.MaxInt64
	for _, pt := range parts {
		out.Version = min(out.Version, pt.resp.Version)
		if pt.local {
			st := pt.resp.stats
			out.stats.IndexSearches += st.IndexSearches
			out.stats.IndexExact += st.IndexExact
			out.stats.FileScans += st.FileScans
			out.stats.Resolved += st.Resolved
			out.stats.Dropped += st.Dropped
			out.stats.Rounds = max(out.stats.Rounds, st.Rounds)
			out.stats.IndexKeys = append(out.stats.IndexKeys, st.IndexKeys...)
		}
		for _, r := range pt.resp.Results {
			if p.HasThreshold && r.Score < p.Threshold {
				continue
			}
			k := key{r.SystemID, r.ID}
			if old, ok := best[k]; ok && (old.version > pt.resp.Version ||
				(old.version == pt.resp.Version && old.r.Score >= r.Score)) {
				continue
			}
			best[k] = entry{r, pt.resp.Version}
		}
	}
	for _, e := range best {
		out.Results = append(out.Results, e.r)
	}
	sort.Slice(out.Results, func(i, j int) bool {
		a, b := &out.Results[i], &out.Results[j]
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		if a.SystemID != b.SystemID {
			return a.SystemID < b.SystemID
		}
		return a.ID < b.ID
	})
	if len(out.Results) > p.K {
		out.Results = out.Results[:p.K]
	}
	return out
}
