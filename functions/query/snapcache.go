package query

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/sync/singleflight"

	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/schemas"
)

// snapCache keeps the last answer of a GET route that is a function of the
// tables' snapshots alone (GET /v1/systems: the log's statistics), keyed by
// their versions and the query string. The console's fleet page asks for it
// on every visit, and at 10,000 systems computing it (every file's
// statistics) takes about half a second of the two cores; a new commit
// changes the versions, so an answer is never older than its key says.
//
// Only for answers that depend on the caller through its tenant alone: one
// answer serves every principal of a tenant (the key holds its scope).
//
// The handler computes from the very snapshots the key names (pinned in
// its context), so an answer is never older than its key (the expiry epoch
// is read at the key's moment; the rows hidden as expired are those at the
// statement's, a moment later: at worst newer), and a commit (an ingest, a
// delete, a forget) changes the key: an answer for an old snapshot is
// never served for a newer one.
//
// A warmer (warm.go) computes the next answer in the background when it
// sees new snapshots, so a browser finds it ready.
//
// Large answers are also kept gzipped, for clients that accept it: the
// fleet's 1.6 MB of JSON is about a tenth of that on the wire.
type snapCache struct {
	f      *Function
	mu     sync.Mutex
	by     map[string]*snapAnswer // route|scope -> its last answer
	flight singleflight.Group     // one computation per route, scope and key
	// handlers are the routes served through the cache (set by wrap before
	// the warmer starts, read-only after).
	handlers map[string]http.HandlerFunc
	// targets are the answers the warmer keeps current (warm.go).
	targets map[string]*warmTarget
	// computed counts the answers computed, by who asked: "request" or
	// "warm" (for tests and the log).
	computed map[string]int
}

type snapAnswer struct {
	key         string
	order       int64 // the sum of the tables' versions: they only grow
	status      int
	contentType string
	body, gz    []byte
}

// maxSnapAnswers bounds the answers kept (routes x tenants' scopes).
const maxSnapAnswers = 256

// gzipAbove is the size from which an answer is also kept gzipped.
const gzipAbove = 32 << 10

func newSnapCache(f *Function) *snapCache {
	return &snapCache{f: f, by: map[string]*snapAnswer{}, handlers: map[string]http.HandlerFunc{},
		targets: map[string]*warmTarget{}, computed: map[string]int{}}
}

// keyOf is the key of an answer computed from snaps, for a query string:
// the tables' versions, the expiry epoch at now and the query.
func (c *snapCache) keyOf(ctx context.Context, snaps snapshots, rawQuery string) (string, error) {
	epoch, err := c.f.expiry.epoch(ctx, snaps[schemas.TableMemories], c.f.cfg.Now())
	if err != nil {
		return "", err
	}
	return snaps.versions() + epoch + "?" + rawQuery, nil
}

// kept is the answer kept for route|scope if it was computed for key.
func (c *snapCache) kept(rk, key string) *snapAnswer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.by[rk]; a != nil && a.key == key {
		return a
	}
	return nil
}

// compute runs h for key on r, whose context pins the scope and snaps, and
// keeps a successful answer. A request and the warmer asking for the same
// key share one computation (a browser arriving while the warmer works
// waits for it rather than running the same GROUP BY beside it on the same
// cores). A failed answer comes back as its recording, not kept.
func (c *snapCache) compute(r *http.Request, rk, key, who string, h http.HandlerFunc) (*snapAnswer, *recorder) {
	var order int64
	for _, s := range c.f.snapshotsOf(r.Context()) {
		order += s.Version
	}
	type out struct {
		a   *snapAnswer
		rec *recorder
	}
	v, _, _ := c.flight.Do(rk+"\x00"+key, func() (any, error) {
		rec := &recorder{header: http.Header{}, status: http.StatusOK}
		h(rec, r)
		c.mu.Lock()
		c.computed[who]++
		c.mu.Unlock()
		if rec.status != http.StatusOK {
			return out{rec: rec}, nil
		}
		a := &snapAnswer{key: key, order: order, status: rec.status, contentType: rec.header.Get("Content-Type"), body: rec.body.Bytes()}
		if len(a.body) > gzipAbove {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
			zw.Write(a.body)
			zw.Close()
			a.gz = buf.Bytes()
		}
		c.mu.Lock()
		if len(c.by) >= maxSnapAnswers {
			clear(c.by) // many tenants: start over rather than grow
		}
		// A computation that ends after one for newer snapshots (a slow
		// warm overtaken by a request after a commit) does not displace it.
		if old := c.by[rk]; old == nil || old.order <= a.order {
			c.by[rk] = a
		}
		c.mu.Unlock()
		return out{a: a}, nil
	})
	o := v.(out)
	return o.a, o.rec
}

// wrap serves h through the cache.
func (c *snapCache) wrap(route string, h http.HandlerFunc) http.HandlerFunc {
	c.handlers[route] = h
	return func(w http.ResponseWriter, r *http.Request) {
		// One answer per tenant's scope: the answer is computed through
		// the confined views.
		ctx, sc := c.f.pinScope(r.Context())
		if r.URL.RawQuery == "" {
			c.asked(ctx, route)
		}
		rk := route + "|" + sc.Key()
		snaps := c.f.snapshots()
		key, err := c.keyOf(ctx, snaps, r.URL.RawQuery)
		if err != nil {
			httpx.WriteErr(w, err)
			return
		}
		a := c.kept(rk, key)
		if a == nil {
			// The handler reads the snapshots the key names; the
			// computation outlives a client that goes away (the answer
			// is kept for the next one), bounded by the SQL timeout.
			cctx := withSnapshots(context.WithoutCancel(ctx), snaps)
			var rec *recorder
			if a, rec = c.compute(r.WithContext(cctx), rk, key, "request", h); rec != nil {
				copyHeader(w.Header(), rec.header)
				w.WriteHeader(rec.status)
				w.Write(rec.body.Bytes())
				return
			}
		}
		w.Header().Set("Content-Type", a.contentType)
		w.Header().Add("Vary", "Accept-Encoding")
		body := a.body
		if a.gz != nil && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			body = a.gz
		}
		w.WriteHeader(a.status)
		w.Write(body)
	}
}

// recorder holds a handler's answer.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	wrote  bool
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}

func copyHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v
	}
}
