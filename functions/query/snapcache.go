package query

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strings"
	"sync"

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
// The versions are read before the handler takes its own snapshots, so a
// commit landing in between makes the stored answer newer than its key,
// never older: a later request with the new versions computes afresh.
//
// Large answers are also kept gzipped, for clients that accept it: the
// fleet's 1.6 MB of JSON is about a tenth of that on the wire.
type snapCache struct {
	f  *Function
	mu sync.Mutex
	by map[string]*snapAnswer // route -> its last answer
}

type snapAnswer struct {
	key         string
	status      int
	contentType string
	body, gz    []byte
}

// maxSnapAnswers bounds the answers kept (routes x tenants' scopes).
const maxSnapAnswers = 256

// gzipAbove is the size from which an answer is also kept gzipped.
const gzipAbove = 32 << 10

func newSnapCache(f *Function) *snapCache { return &snapCache{f: f, by: map[string]*snapAnswer{}} }

// wrap serves h through the cache.
func (c *snapCache) wrap(route string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// One answer per tenant's scope: the answer is computed through
		// the confined views.
		ctx, sc := c.f.pinScope(r.Context())
		r = r.WithContext(ctx)
		route := route + "|" + sc.Key()
		snaps := c.f.snapshots()
		epoch, err := c.f.expiry.epoch(ctx, snaps[schemas.TableMemories], c.f.cfg.Now())
		if err != nil {
			httpx.WriteErr(w, err)
			return
		}
		key := snaps.versions() + epoch + "?" + r.URL.RawQuery
		c.mu.Lock()
		a := c.by[route]
		c.mu.Unlock()
		if a == nil || a.key != key {
			rec := &recorder{header: http.Header{}, status: http.StatusOK}
			h(rec, r)
			if rec.status != http.StatusOK {
				copyHeader(w.Header(), rec.header)
				w.WriteHeader(rec.status)
				w.Write(rec.body.Bytes())
				return
			}
			a = &snapAnswer{key: key, status: rec.status, contentType: rec.header.Get("Content-Type"), body: rec.body.Bytes()}
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
			c.by[route] = a
			c.mu.Unlock()
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
