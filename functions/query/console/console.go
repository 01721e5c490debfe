// Package console serves the web console (issue 19) at /ui: a bundle of
// static files built from web/console by `make ui` and embedded here, so
// that a binary serves it with no Node.js at run time and no CDN.
//
// The files themselves need no credential: they hold no data. Every data
// call the console makes carries the API key or JWT the user entered, and
// goes through the same auth as any other client's.
//
// Caching: the bundle's file names carry a hash of their content (esbuild's
// [hash]), so they are immutable; index.html names them and is revalidated
// on every load (an ETag makes that a 304).
package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/akosha/akosha/internal/httpx"
)

//go:embed dist
var dist embed.FS

// Prefix is where the console is served.
const Prefix = "/ui/"

// Pattern is the ServeMux pattern of the console's files (GET /ui/ and
// everything below it; a request for /ui is redirected to /ui/).
const Pattern = "GET /ui/{path...}"

// csp keeps the console to its own origin: scripts, styles and data calls
// come from this server only. Inline styles are allowed because CodeMirror
// and Cytoscape set element styles and inject <style> elements at run time.
const csp = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// file is one embedded file, ready to serve.
type file struct {
	body, gz    []byte // gz: nil when compressing does not pay
	etag        string
	contentType string
	immutable   bool
}

// Handler serves the embedded bundle.
func Handler() http.Handler { return &handler{} }

type handler struct {
	once  sync.Once
	files map[string]*file
	err   error
}

// load reads and compresses the bundle once, on the first request, so a
// process that never serves the console pays nothing for it.
func (h *handler) load() {
	h.files = map[string]*file{}
	h.err = fs.WalkDir(dist, "dist", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := dist.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "dist/")
		sum := sha256.Sum256(b)
		f := &file{
			body:        b,
			etag:        `"` + hex.EncodeToString(sum[:12]) + `"`,
			contentType: contentType(name),
			immutable:   strings.HasPrefix(name, "assets/"),
		}
		if len(b) > 1024 && compressible(f.contentType) {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			zw.Write(b)
			zw.Close()
			if buf.Len() < len(b)*9/10 {
				f.gz = buf.Bytes()
			}
		}
		h.files[name] = f
		return nil
	})
}

func contentType(name string) string {
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func compressible(ct string) bool {
	return strings.HasPrefix(ct, "text/") || strings.Contains(ct, "javascript") || strings.Contains(ct, "json") || strings.Contains(ct, "svg")
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.once.Do(h.load)
	if h.err != nil {
		httpx.WriteError(w, http.StatusInternalServerError, httpx.CodeInternal, "console: "+h.err.Error())
		return
	}
	name := strings.TrimPrefix(r.URL.Path, Prefix)
	if name == "" {
		name = "index.html"
	}
	f := h.files[name]
	if f == nil && !strings.HasPrefix(name, "assets/") {
		// A path into the console (/ui/fleet) loads the page, which routes
		// by its #fragment; a missing asset stays a 404, never HTML served
		// as a script.
		f = h.files["index.html"]
	}
	if f == nil {
		httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, "no console file "+name)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", f.contentType)
	hdr.Set("ETag", f.etag)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Vary", "Accept-Encoding")
	if f.immutable {
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hdr.Set("Cache-Control", "no-cache")
		hdr.Set("Content-Security-Policy", csp)
		hdr.Set("X-Frame-Options", "DENY")
	}
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.body
	if f.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		hdr.Set("Content-Encoding", "gzip")
		body = f.gz
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		// "gzip;q=0" refuses it; any other weight accepts it.
		if q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
			w, err := strconv.ParseFloat(q, 64)
			return err == nil && w > 0
		}
		return true
	}
	return false
}
