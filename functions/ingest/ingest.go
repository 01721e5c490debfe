// Package ingest is the ingest function: Session-Buddy systems push memories,
// entities and relations over REST and MCP, and each request is acknowledged
// only once a commit holding its records has landed in the lake's log.
//
// It follows the Knative Functions Go contract (internal/fnrun): New builds
// it, Start opens the lake, Handle serves requests, Stop drains the group
// committers.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/config"
	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/internal/mcp"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/schemas"
)

// Configuration keys read by the ingest function.
var (
	keyMaxBody    = config.Register(config.Key{Name: "AKOSHA_INGEST_MAX_BODY_BYTES", Default: "33554432", Help: "largest request body, after decompression"})
	keyMaxRecords = config.Register(config.Key{Name: "AKOSHA_INGEST_MAX_RECORDS", Default: "1000", Help: "most records in one request"})
	keyTimeout    = config.Register(config.Key{Name: "AKOSHA_INGEST_TIMEOUT", Default: "30s", Help: "deadline of one ingest request"})
	keyGroupWait  = config.Register(config.Key{Name: "AKOSHA_INGEST_GROUP_WAIT", Default: "5ms", Help: "longest a request waits for others to share its commit"})
	keyGroupMax   = config.Register(config.Key{Name: "AKOSHA_INGEST_GROUP_RECORDS", Default: "20000", Help: "most records in one group commit"})
	keyFlushes    = config.Register(config.Key{Name: "AKOSHA_INGEST_GROUP_FLUSHES", Default: "1", Help: "most group commits of one table being written at once; a waiting group grows meanwhile"})
	keyExpiry     = config.Register(config.Key{Name: "AKOSHA_EXPIRY_BY_KIND", Help: "default expiry of memories per kind, kind:duration,... (e.g. conversation:720h); a record's own expires_at or ttl wins; empty: memories never expire by default"})
)

// Config sets the function's limits.
type Config struct {
	MaxBodyBytes int64         // request body limit after decompression (default 32 MB)
	MaxRecords   int           // records per request (default 1000)
	Timeout      time.Duration // deadline of a request (default 30 s)
	GroupWait    time.Duration // group commit: longest wait for company (default 5 ms)
	GroupRecords int           // group commit: most records per commit (default 20,000)
	GroupFlushes int           // group commit: most groups of a table staged or committed at once (default 1)
	// ExpiryByKind is the default ttl of a memory of each kind that gives
	// neither expires_at nor ttl (AKOSHA_EXPIRY_BY_KIND); none: no default.
	ExpiryByKind map[string]time.Duration
}

// ParseExpiryByKind reads AKOSHA_EXPIRY_BY_KIND: kind:duration pairs,
// comma-separated, each kind once, each duration a Go duration (720h) over
// 0 and at most 100 years.
func ParseExpiryByKind(s string) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		kind, dur, ok := strings.Cut(pair, ":")
		kind = strings.TrimSpace(kind)
		switch kind {
		case schemas.KindConversation, schemas.KindReflection, schemas.KindMemory:
		default:
			return nil, fmt.Errorf("%s: %q: want kind:duration with kind conversation, reflection or memory", keyExpiry.Name, pair)
		}
		if !ok {
			return nil, fmt.Errorf("%s: %q: want kind:duration, e.g. conversation:720h", keyExpiry.Name, pair)
		}
		if _, dup := out[kind]; dup {
			return nil, fmt.Errorf("%s: kind %s given twice", keyExpiry.Name, kind)
		}
		d, err := time.ParseDuration(strings.TrimSpace(dur))
		if err != nil || d <= 0 || d > schemas.MaxTTL {
			return nil, fmt.Errorf("%s: %q: the duration must be a Go duration over 0 and at most 100 years (e.g. 720h)", keyExpiry.Name, pair)
		}
		out[kind] = d
	}
	return out, nil
}

// ConfigFromEnv reads the configuration from AKOSHA_INGEST_* variables.
func ConfigFromEnv() (Config, error) {
	var c Config
	var errs []error
	get := func(k config.Key) int64 { n, err := k.Int(); errs = append(errs, err); return n }
	dur := func(k config.Key) time.Duration { d, err := k.Duration(); errs = append(errs, err); return d }
	c.MaxBodyBytes = get(keyMaxBody)
	c.MaxRecords = int(get(keyMaxRecords))
	c.Timeout = dur(keyTimeout)
	c.GroupWait = dur(keyGroupWait)
	c.GroupRecords = int(get(keyGroupMax))
	c.GroupFlushes = int(get(keyFlushes))
	byKind, err := ParseExpiryByKind(keyExpiry.String())
	errs = append(errs, err)
	c.ExpiryByKind = byKind
	return c.withDefaults(), errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 32 << 20
	}
	if c.MaxRecords <= 0 {
		c.MaxRecords = 1000
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.GroupWait <= 0 {
		c.GroupWait = 5 * time.Millisecond
	}
	if c.GroupRecords <= 0 {
		c.GroupRecords = 20000
	}
	if c.GroupFlushes <= 0 {
		c.GroupFlushes = 1
	}
	return c
}

// Function is the ingest function.
type Function struct {
	cfg     Config
	lake    *lake.Lake
	auth    *auth.Authenticator
	metrics *metrics
	mux     *httpx.Mux

	memories  *committer[schemas.Memory]
	entities  *committer[schemas.Entity]
	relations *committer[schemas.Relation]

	retry lake.Retry // how a delete that lost a race with a rewrite tries again

	stopOnce sync.Once
}

// New is the func-go constructor: the function opens its lake in Start,
// from AKOSHA_LAKE_URL, with auth from AKOSHA_JWT_SECRET / AKOSHA_API_KEYS
// and limits from AKOSHA_INGEST_*.
func New() *Function { return &Function{} }

// Start opens the lake (the func-go contract). A Function built by Open is
// already started.
func (f *Function) Start(ctx context.Context, env map[string]string) error {
	if f.mux != nil {
		return nil
	}
	l, err := lake.OpenURL(ctx, env[config.LakeURL.Name])
	if err != nil {
		return fmt.Errorf("ingest: %w (set AKOSHA_LAKE_URL)", err)
	}
	a, err := auth.NewFromEnv(false)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	cfg, err := ConfigFromEnv()
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	return f.init(l, a, cfg, prometheus.DefaultRegisterer)
}

// Open builds a started function on an open lake; reg receives its metrics.
// `akosha serve` uses it to share one lake between ingest and query, so that
// a process reads its own writes.
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
	f.cfg, f.lake, f.auth, f.metrics = cfg, l, a, m
	f.retry = lake.DefaultRetry
	f.memories = newCommitter(schemas.TableMemories, l, lake.StageMemories, cfg.GroupWait, cfg.GroupRecords, cfg.GroupFlushes)
	f.entities = newCommitter(schemas.TableEntities, l, lake.StageEntities, cfg.GroupWait, cfg.GroupRecords, cfg.GroupFlushes)
	f.relations = newCommitter(schemas.TableRelations, l, lake.StageRelations, cfg.GroupWait, cfg.GroupRecords, cfg.GroupFlushes)
	for _, c := range []interface {
		setObserve(func(string, int, int, time.Duration, error))
	}{f.memories, f.entities, f.relations} {
		c.setObserve(m.observeCommit)
	}

	write := func(h http.Handler) http.Handler {
		return a.Require(auth.Write, http.TimeoutHandler(withDeadline(cfg.Timeout, h), cfg.Timeout+5*time.Second, `{"error":{"code":"timeout","message":"request timed out"}}`))
	}
	mux := &httpx.Mux{}
	mux.Handle("/v1/memories", write(ingestHandler[schemas.Memory](f, schemas.TableMemories, memoryKey, f.memories)))
	mux.Handle("/v1/entities", write(ingestHandler[schemas.Entity](f, schemas.TableEntities, entityKey, f.entities)))
	mux.Handle("/v1/relations", write(ingestHandler[schemas.Relation](f, schemas.TableRelations, relationKey, f.relations)))
	for _, table := range lake.Tables {
		mux.Handle("DELETE /v1/"+table+"/{system_id}/{id}", write(f.serveDeleteOne(table)))
	}
	mux.Handle("POST /v1/delete", write(http.HandlerFunc(f.serveDeleteFilter)))
	// The MCP endpoint needs only Read: each tool checks its own permission
	// (all of ingest's need Write).
	mcpServer := a.Require(auth.Read, &mcp.Server{Name: "akosha-ingest", Tools: f.MCPTools(), MaxBody: cfg.MaxBodyBytes})
	for _, p := range mcpPaths {
		mux.Handle(p, mcpServer)
	}
	for _, p := range statusPaths {
		mux.HandleFunc(p, f.serveStatus)
	}
	for _, p := range storeMemoryPaths {
		mux.Handle(p, write(http.HandlerFunc(f.serveStoreMemory)))
	}
	f.mux = mux
	return nil
}

func withDeadline(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Patterns are the routes this function registered (Routes names those a
// shared server sends it; a test holds both to api/openapi.yaml).
func (f *Function) Patterns() []string { return f.mux.Patterns() }

// Handle serves one request (the func-go contract).
func (f *Function) Handle(w http.ResponseWriter, r *http.Request) { f.mux.ServeHTTP(w, r) }

// Routes are the paths this function owns when it shares a server.
func Routes() []string {
	routes := []string{"/v1/memories", "/v1/entities", "/v1/relations",
		"DELETE /v1/memories/{system_id}/{id}", "DELETE /v1/entities/{system_id}/{id}", "DELETE /v1/relations/{system_id}/{id}",
		"POST /v1/delete"}
	routes = append(routes, mcpPaths...)
	routes = append(routes, "/status", "/mcp/status")
	return append(routes, storeMemoryPaths...)
}

// Stop drains the group committers: requests already queued are committed.
func (f *Function) Stop(ctx context.Context) error {
	if f.mux == nil {
		return nil
	}
	done := make(chan struct{})
	go func() {
		f.stopOnce.Do(func() {
			f.memories.Close()
			f.entities.Close()
			f.relations.Close()
		})
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop ingest: %w", ctx.Err())
	}
}

// Ready reports whether the lake answered (the func-go contract).
func (f *Function) Ready(ctx context.Context) (bool, error) { return f.mux != nil, nil }

// Alive reports liveness (the func-go contract).
func (f *Function) Alive(ctx context.Context) (bool, error) { return true, nil }

func (f *Function) serveStatus(w http.ResponseWriter, r *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"status": "ok", "function": "ingest", "versions": f.versions()})
}

func (f *Function) versions() map[string]int64 {
	out := map[string]int64{}
	for _, name := range lake.Tables {
		out[name] = f.tableVersion(name)
	}
	return out
}

func (f *Function) tableVersion(table string) int64 {
	t, err := f.lake.Table(table)
	if err != nil {
		return -1
	}
	return t.Cached().Version
}

// priorTxn looks an idempotency key up in this process's snapshot.
func (f *Function) priorTxn(table, appID string) (*delta.Txn, bool) {
	t, err := f.lake.Table(table)
	if err != nil {
		return nil, false
	}
	txn, ok := t.Cached().Txn(appID)
	if !ok {
		return nil, false
	}
	return &txn, true
}

// refreshedTxn looks an idempotency key up after catching up with the log:
// a committer learned that another process committed it.
func (f *Function) refreshedTxn(ctx context.Context, table, appID string) (*delta.Txn, bool) {
	t, err := f.lake.Table(table)
	if err != nil {
		return nil, false
	}
	if _, err := t.Refresh(ctx); err != nil {
		return nil, false
	}
	return f.priorTxn(table, appID)
}
