// Package query is the query function: ad hoc SQL over the whole lake,
// record lookups and the systems overview, answered from a snapshot of the
// Delta tables through the NVMe cache and a sandboxed DuckDB.
//
// A statement's path: guard and analyse it (sqlexec) -> the snapshot's live
// files, pruned by partition values and created_at statistics -> fetch them
// into the cache (one download per object) -> DuckDB views over the cached
// files -> encode. Answers are cached in process (L1) and in Redis (L2),
// keyed by snapshot version, so a new commit makes old answers unreachable.
package query

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/akosha/akosha/functions/query/console"
	"github.com/akosha/akosha/functions/query/search"
	"github.com/akosha/akosha/functions/query/sqlexec"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/config"
	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/internal/mcp"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/cache"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/lake/vecindex"
)

// Configuration keys read by the query function.
var (
	keyCacheDir    = config.Register(config.Key{Name: "AKOSHA_CACHE_DIR", Default: "", Help: "NVMe cache directory (default: a folder under the system temp dir)"})
	keyCacheBytes  = config.Register(config.Key{Name: "AKOSHA_CACHE_BYTES", Default: "10737418240", Help: "cache byte budget"})
	keyRedisURL    = config.Register(config.Key{Name: "AKOSHA_REDIS_URL", Help: "Redis for the shared result cache and rate limits; empty: none"})
	keySQLTimeout  = config.Register(config.Key{Name: "AKOSHA_SQL_TIMEOUT", Default: "30s", Help: "statement timeout"})
	keySQLMaxRows  = config.Register(config.Key{Name: "AKOSHA_SQL_MAX_ROWS", Default: "10000", Help: "row limit of one answer"})
	keySQLMemory   = config.Register(config.Key{Name: "AKOSHA_SQL_MEMORY_LIMIT", Default: "2GB", Help: "DuckDB memory_limit"})
	keySQLThreads  = config.Register(config.Key{Name: "AKOSHA_SQL_THREADS", Default: "0", Help: "DuckDB threads (0: one per core)"})
	keyResultCache = config.Register(config.Key{Name: "AKOSHA_RESULT_CACHE_BYTES", Default: "268435456", Help: "in-process result cache budget"})
	keyResultOff   = config.Register(config.Key{Name: "AKOSHA_RESULT_CACHE", Default: "on", Help: "on or off: off answers every statement afresh, bypassing the L1 and L2 result caches (for measurement, or when answers must never be served from a cache)"})
	keyResultTTL   = config.Register(config.Key{Name: "AKOSHA_RESULT_CACHE_TTL", Default: "1h", Help: "Redis result cache entry lifetime"})
	keyTier        = config.Register(config.Key{Name: "AKOSHA_TIER", Help: "pin this query process to one tier (hot, warm or cold) and serve its objects: a tier store"})
	keyFooters     = config.Register(config.Key{Name: "AKOSHA_SEARCH_FOOTERS", Default: "256", Help: "parsed footers of cached data files kept for reading search hits (~90 KB each for a 1M-record day file)"})
	keyWarmAnswers = config.Register(config.Key{Name: "AKOSHA_WARM_ANSWERS", Default: "", Help: "which kept answers (GET /v1/systems) are computed in the background when new snapshots arrive: start (the default on a local lake: those asked in the last hour, and the fleet-wide one from the start), asked (the default on S3: those asked in the last hour) or off"})
	keyTierStores  = config.Register(config.Key{Name: "AKOSHA_TIER_STORES", Help: "tier stores to read through before S3 and to fan search out to: hot=http://...,warm=http://..."})
)

// Config configures the query function.
type Config struct {
	CacheDir         string
	CacheBytes       int64
	RedisURL         string // empty: no L2 result cache
	SQLTimeout       time.Duration
	MaxRows          int
	MemoryLimit      string
	Threads          int
	ResultCacheBytes int64
	ResultTTL        time.Duration
	// NoResultCache turns the L1 and L2 result caches off: every statement
	// is computed afresh and nothing is stored.
	NoResultCache bool
	// Tier pins the process to one tier: it serves that tier's objects on
	// GET /v1/objects/{key} from its (persistent) cache. Empty: not a store.
	Tier string
	// TierStores are the stores to read each tier's objects through and to
	// hand each tier's searches to (fanout.go). A store (Tier set) only
	// reads through them: it always searches locally.
	TierStores map[string]string
	// KeyWarmDelay is how long a new function leaves its key index to the
	// requests before warming it in the background (0: 2 s; see
	// keyWarmDelay).
	KeyWarmDelay time.Duration
	// Footers bounds the parsed footers of cached data files kept for
	// reading search hits (vecindex.Files); 0: vecindex.DefaultFiles.
	Footers int
	// WarmAnswers is which kept answers are computed in the background
	// when new snapshots arrive (warm.go): WarmAuto, WarmStart, WarmAsked
	// or WarmOff.
	WarmAnswers string
	// WarmEvery is how often the warmer looks at the snapshots (0: 500 ms).
	WarmEvery time.Duration
	// WarmSettle is how long the snapshots must stay unchanged before the
	// warmer computes (0: 2 s).
	WarmSettle time.Duration
	// Now is the clock that decides which records have expired (issue 16);
	// nil: time.Now. Tests move it instead of sleeping.
	Now func() time.Time
}

// ConfigFromEnv reads AKOSHA_* variables.
func ConfigFromEnv() (Config, error) {
	var errs []error
	num := func(k config.Key) int64 { n, err := k.Int(); errs = append(errs, err); return n }
	dur := func(k config.Key) time.Duration { d, err := k.Duration(); errs = append(errs, err); return d }
	c := Config{
		CacheDir:         keyCacheDir.String(),
		CacheBytes:       num(keyCacheBytes),
		RedisURL:         keyRedisURL.String(),
		SQLTimeout:       dur(keySQLTimeout),
		MaxRows:          int(num(keySQLMaxRows)),
		MemoryLimit:      keySQLMemory.String(),
		Threads:          int(num(keySQLThreads)),
		ResultCacheBytes: num(keyResultCache),
		ResultTTL:        dur(keyResultTTL),
		Tier:             keyTier.String(),
		Footers:          int(num(keyFooters)),
		WarmAnswers:      strings.ToLower(keyWarmAnswers.String()),
	}
	switch c.WarmAnswers {
	case WarmAuto, WarmStart, WarmAsked, WarmOff:
	default:
		errs = append(errs, fmt.Errorf("%s=%q: want start, asked or off", keyWarmAnswers.Name, c.WarmAnswers))
	}
	switch v := strings.ToLower(keyResultOff.String()); v {
	case "", "on":
	case "off":
		c.NoResultCache = true
	default:
		errs = append(errs, fmt.Errorf("%s=%q: want on or off", keyResultOff.Name, v))
	}
	stores, err := storage.ParseTierStores(keyTierStores.String())
	errs = append(errs, err)
	c.TierStores = stores
	return c, errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.CacheDir == "" {
		c.CacheDir = filepath.Join(os.TempDir(), "akosha-cache")
	}
	if c.CacheBytes <= 0 {
		c.CacheBytes = 10 << 30
	}
	if c.SQLTimeout <= 0 {
		c.SQLTimeout = 30 * time.Second
	}
	if c.MaxRows <= 0 {
		c.MaxRows = 10000
	}
	if c.ResultCacheBytes <= 0 {
		c.ResultCacheBytes = 256 << 20
	}
	if c.ResultTTL <= 0 {
		c.ResultTTL = time.Hour
	}
	if c.KeyWarmDelay <= 0 {
		c.KeyWarmDelay = keyWarmDelay
	}
	if c.WarmEvery <= 0 {
		c.WarmEvery = warmEvery
	}
	if c.WarmSettle <= 0 {
		c.WarmSettle = warmSettle
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Function is the query function.
type Function struct {
	cfg     Config
	lake    *lake.Lake
	status  *lakeStatus // GET /v1/lake (lakestatus.go)
	answers *snapCache  // answers that depend on the snapshots alone (snapcache.go)
	auth    *auth.Authenticator
	cache   *cache.Cache
	engine  *sqlexec.Engine
	keys    *keyIndex
	expiry  *expiryIndex // which rows have expired, for result cache keys (expiry.go)
	l1      *lru
	l2      *redisCache // nil without Redis
	flight  singleflight.Group
	metrics *metrics
	mux     *httpx.Mux
	vectors *search.State   // indexes and decoded files of search (search.go, textsearch.go)
	embed   *embedder       // text to vector for search; nil: none configured (embedder.go)
	footers *vecindex.Files // parsed footers of cached data files, for search hits (hitsAt)
	past    *pastSnapshots  // as_of: loaded past snapshots (asof.go)
	fanout  *fanout         // search through the tier stores (fanout.go); nil: search here

	stopWarm context.CancelFunc
	warmDone chan struct{}
	// The answers' warmer (warm.go): nil done when off.
	stopAnswers context.CancelFunc
	answersDone chan struct{}
	closeOnce   sync.Once
}

// New is the func-go constructor; Start opens the lake from AKOSHA_LAKE_URL.
func New() *Function { return &Function{} }

// Start opens the lake, the cache and DuckDB (the func-go contract).
func (f *Function) Start(ctx context.Context, env map[string]string) error {
	if f.mux != nil {
		return nil
	}
	l, err := lake.OpenURL(ctx, env[config.LakeURL.Name])
	if err != nil {
		return fmt.Errorf("query: %w (set AKOSHA_LAKE_URL)", err)
	}
	a, err := auth.NewFromEnv(false)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	cfg, err := ConfigFromEnv()
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	return f.init(l, a, cfg, prometheus.DefaultRegisterer)
}

// Open builds a started function on an open lake (akosha serve shares the
// lake with ingest, so a process reads its own writes).
func Open(l *lake.Lake, a *auth.Authenticator, cfg Config, reg prometheus.Registerer) (*Function, error) {
	f := &Function{}
	if err := f.init(l, a, cfg, reg); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *Function) init(l *lake.Lake, a *auth.Authenticator, cfg Config, reg prometheus.Registerer) error {
	cfg = cfg.withDefaults()
	m, err := newMetrics(reg)
	if err != nil {
		return err
	}
	// Data and index objects come through the tier stores when there are
	// any (each tier's from its own store, falling back to the lake); the
	// log is always read from the lake itself.
	objects := l.Store()
	// A copy: the caller's map may configure other processes too.
	cfg.TierStores = maps.Clone(cfg.TierStores)
	delete(cfg.TierStores, cfg.Tier) // a store reads its own tier from the lake
	if len(cfg.TierStores) > 0 {
		objects = &storage.ReadThrough{Store: l.Store(), Tiers: cfg.TierStores}
	}
	c, err := cache.Open(cfg.CacheDir, cfg.CacheBytes, objects, reg)
	if err != nil {
		return fmt.Errorf("query: cache: %w", err)
	}
	eng, err := sqlexec.New(sqlexec.Config{
		MemoryLimit: cfg.MemoryLimit, Threads: cfg.Threads, Timeout: cfg.SQLTimeout,
		MaxRows: cfg.MaxRows, AllowedDirs: []string{c.Dir()},
	})
	if err != nil {
		c.Close()
		return fmt.Errorf("query: duckdb: %w", err)
	}
	// The tenants' mapping is read before the first request: with none
	// read, every system would look like the default tenant's.
	mctx, mcancel := context.WithTimeout(context.Background(), time.Minute)
	_, err = l.Tenants().Refresh(mctx)
	mcancel()
	if err != nil {
		eng.Close()
		c.Close()
		return fmt.Errorf("query: %w", err)
	}
	f.cfg, f.lake, f.auth, f.cache, f.engine, f.metrics = cfg, l, a, c, eng, m
	f.keys = newKeyIndex(objects)
	f.expiry = newExpiryIndex(l)
	f.past = newPastSnapshots()
	f.l1 = newLRU(cfg.ResultCacheBytes)
	f.vectors = search.NewState(searchLake{f})
	f.embed = embedderFromEnv()
	// A footer goes when its cached file goes (evicted, or forgotten once
	// vacuum deleted the object): it holds the file's column statistics.
	f.footers = vecindex.NewFiles(cfg.Footers)
	c.OnRemove(f.footers.Drop)
	f.fanout = newFanout(cfg)
	f.status = newLakeStatus()
	f.answers = newSnapCache(f)
	if cfg.RedisURL != "" {
		if f.l2, err = newRedisCache(cfg.RedisURL, cfg.ResultTTL); err != nil {
			return err
		}
	}
	wctx, cancel := context.WithCancel(context.Background())
	f.stopWarm, f.warmDone = cancel, make(chan struct{})
	go f.warmKeys(wctx, time.Second)
	read := func(h http.HandlerFunc) http.Handler { return a.Require(auth.Read, h) }
	mux := &httpx.Mux{}
	mux.Handle("POST /v1/sql", read(f.serveSQL))
	mux.Handle("GET /v1/memories/{system_id}/{id}", read(f.serveMemory))
	mux.Handle("GET /v1/systems", read(f.answers.wrap("systems", f.serveSystems)))
	mux.Handle("GET /v1/objects/{key...}", read(f.fleetOnly(f.serveObject))) // 404 unless a tier store
	mux.Handle("POST /v1/search", read(f.serveSearch))
	mux.Handle("GET /v1/analytics/trends", read(f.serveTrends))
	mux.Handle("GET /v1/analytics/anomalies", read(f.serveAnomalies))
	mux.Handle("GET /v1/analytics/correlations", read(f.serveCorrelations))
	mux.Handle("GET /v1/graph/entities/{system_id}/{id}", read(f.serveGraphEntity))
	mux.Handle("GET /v1/graph/entities", read(f.serveGraphByName))
	mux.Handle("GET /v1/graph/path", read(f.serveGraphPath))
	mux.Handle("GET /v1/memories/{system_id}/{id}/versions", read(f.serveMemoryVersions))
	mux.Handle("GET /v1/lake", read(f.fleetOnly(f.serveLake)))
	mux.Handle("GET /v1/erasures", a.Require(auth.Write, http.HandlerFunc(f.serveErasures)))
	// The console's files hold no data and need no credential; the calls
	// it makes carry the user's and go through the routes above.
	mux.Handle(console.Pattern, console.Handler())
	// search_all_systems may be handed on to the tier stores as the caller.
	mcpServer := a.Require(auth.Read, keepCredentials(&mcp.Server{Name: "akosha-query", Tools: f.MCPTools(), MaxBody: maxSearchBody}))
	mux.Handle("POST /mcp", mcpServer)
	mux.Handle("POST /mcp/v1", mcpServer)
	f.mux = mux
	if mode := warmMode(cfg.WarmAnswers, l.Store()); mode != WarmOff {
		if mode == WarmStart {
			f.answers.note(&warmTarget{route: "systems", fleetWide: true, asked: time.Now()})
		}
		actx, stop := context.WithCancel(context.Background())
		f.stopAnswers, f.answersDone = stop, make(chan struct{})
		go f.answers.warm(actx, cfg.WarmEvery, cfg.WarmSettle, f.answersDone)
	}
	return nil
}

// Routes are the patterns this function owns when it shares a server.
func Routes() []string {
	return []string{"POST /v1/sql", "GET /v1/memories/{system_id}/{id}", "GET /v1/systems", "POST /v1/search", "GET /v1/objects/{key...}",
		"GET /v1/analytics/trends", "GET /v1/analytics/anomalies", "GET /v1/analytics/correlations",
		"GET /v1/graph/entities/{system_id}/{id}", "GET /v1/graph/entities", "GET /v1/graph/path",
		"GET /v1/memories/{system_id}/{id}/versions", "GET /v1/lake", "GET /v1/erasures", console.Pattern}
}

// Patterns are the routes this function registered (Routes names those a
// shared server sends it; a test holds both to api/openapi.yaml).
func (f *Function) Patterns() []string { return f.mux.Patterns() }

// Handle serves one request (the func-go contract).
func (f *Function) Handle(w http.ResponseWriter, r *http.Request) { f.mux.ServeHTTP(w, r) }

// Ready reports whether the function can answer.
func (f *Function) Ready(ctx context.Context) (bool, error) { return f.mux != nil, nil }

// Alive reports liveness.
func (f *Function) Alive(ctx context.Context) (bool, error) { return true, nil }

// Stop closes DuckDB, the cache and Redis.
func (f *Function) Stop(ctx context.Context) error {
	if f.mux == nil {
		return nil
	}
	var errs []error
	f.closeOnce.Do(func() {
		f.stopWarm()
		<-f.warmDone
		if f.answersDone != nil {
			f.stopAnswers()
			<-f.answersDone
		}
		f.vectors.Close()
		errs = append(errs, f.engine.Close(), f.cache.Close())
		if f.l2 != nil {
			errs = append(errs, f.l2.Close())
		}
	})
	return errors.Join(errs...)
}

// keyWarmDelay is how long, by default, a new function leaves its key
// index to the requests before warming it. A function scaled from zero starts because a
// request came: that request learns the keys it needs (from the files it
// reads, or a search from its vector indexes), and reading every file's id
// column beside it would only take the two cores from it.
const keyWarmDelay = 2 * time.Second

// forgetEvery is how often the cache drops copies of objects vacuum deleted
// (forget.go): a forgotten record leaves the caches within this of leaving
// the bucket.
const forgetEvery = time.Minute

// warmKeys keeps the key index current with the snapshots in the
// background, so that statements find every file's keys already known.
func (f *Function) warmKeys(ctx context.Context, every time.Duration) {
	defer close(f.warmDone)
	select {
	case <-ctx.Done():
		return
	case <-time.After(f.cfg.KeyWarmDelay):
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	lastForget := time.Now()
	for {
		for name, snap := range f.snapshots() {
			if err := f.keys.Sync(ctx, name, snap, nil, nil); err != nil && ctx.Err() == nil {
				slog.Warn("key index", "table", name, "err", err)
			}
		}
		if time.Since(lastForget) >= forgetEvery {
			lastForget = time.Now()
			if n, err := f.forgetGone(ctx); err != nil && ctx.Err() == nil {
				slog.Warn("cache: forget objects vacuum deleted", "err", err)
			} else if n > 0 {
				slog.Info("cache: forgot objects vacuum deleted", "files", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// snapshots are the tables' snapshots one request reads, taken together.
type snapshots map[string]*delta.Snapshot

func (f *Function) snapshots() snapshots {
	out := snapshots{}
	for _, name := range lake.Tables {
		t, _ := f.lake.Table(name)
		out[name] = t.Cached()
	}
	return out
}

type snapshotsKey struct{}

// withSnapshots pins the snapshots a handler reads (snapshotsOf), so an
// answer kept under their versions was computed from them.
func withSnapshots(ctx context.Context, s snapshots) context.Context {
	return context.WithValue(ctx, snapshotsKey{}, s)
}

// snapshotsOf are the snapshots pinned in ctx, else the latest seen.
func (f *Function) snapshotsOf(ctx context.Context) snapshots {
	if s, ok := ctx.Value(snapshotsKey{}).(snapshots); ok {
		return s
	}
	return f.snapshots()
}

// versions names the snapshots for result cache keys:
// "memories@12#<table id>,entities@3#<id>,relations@0#<id>". Version
// numbers alone would let two lakes sharing one Redis answer each other's
// statements (every lake counts 0, 1, 2, ...); each table's metaData.id
// tells tables apart, and cacheKeyOf adds the lake's location, since a
// lake restored from a backup into a new prefix keeps the ids.
func (s snapshots) versions() string {
	var b strings.Builder
	for i, name := range lake.Tables {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s@%d#%s", name, s[name].Version, s[name].Metadata.ID)
	}
	return b.String()
}

// KeysIndexed reports whether the key index covers every file of snap (for
// tests and readiness).
func (f *Function) KeysIndexed(table string, snap *delta.Snapshot) bool {
	return f.keys.covers(table, snap)
}

// Query runs one statement on the latest snapshots, as POST /v1/sql does,
// without the result caches (the CLI's lake mode).
func (f *Function) Query(ctx context.Context, sql string, limit int) (*sqlexec.Result, error) {
	return f.QueryAt(ctx, sql, limit, "")
}

// QueryAt runs one statement as of a past snapshot (asof.go), as POST
// /v1/sql with as_of does, without the result caches; asOf "" is the
// latest snapshots.
func (f *Function) QueryAt(ctx context.Context, sql string, limit int, asOf AsOf) (*sqlexec.Result, error) {
	if err := f.lake.Refresh(ctx); err != nil {
		return nil, err
	}
	if _, err := f.lake.Tenants().Refresh(ctx); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > f.cfg.MaxRows {
		limit = f.cfg.MaxRows
	}
	snaps, err := f.snapshotsAt(ctx, asOf)
	if err != nil {
		return nil, err
	}
	return f.run(ctx, snaps, sql, limit)
}

// CacheStats reports the NVMe cache's counters (benchmarks and tests).
func (f *Function) CacheStats() cache.Stats { return f.cache.Stats() }

// PlannedBytes is the size of the files a statement's plan keeps on the
// current snapshots, after pruning: what an ideal cache would fetch.
func (f *Function) PlannedBytes(ctx context.Context, sql string) int64 {
	scans, err := f.engine.Analyze(ctx, sql)
	if err != nil {
		return -1
	}
	snaps := f.snapshots()
	var total int64
	for table, prunes := range scansByView(scans) {
		kept, _ := keptFiles(table, snaps[table], prunes)
		for _, pf := range kept {
			total += pf.size
		}
	}
	return total
}

// ServeSQL answers a statement as POST /v1/sql does (JSON, through the
// result caches) and says which tier answered: l1, l2 or miss.
func (f *Function) ServeSQL(ctx context.Context, sql string, limit int) ([]byte, string, error) {
	if limit <= 0 || limit > f.cfg.MaxRows {
		limit = f.cfg.MaxRows
	}
	out, tier, err := f.answer(ctx, f.snapshots(), sql, fmtJSON, limit, true, time.Now())
	return out.Body, tier, err
}

// SharedFiles counts the live files of snap read through the latest-wins
// window: those holding a record key another live file also holds.
func (f *Function) SharedFiles(table string, snap *delta.Snapshot) int {
	n := 0
	for a := range snap.AllFiles() {
		if f.keys.Shared(table + "/" + a.Path) {
			n++
		}
	}
	return n
}
