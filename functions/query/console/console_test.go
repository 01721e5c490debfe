package console_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/akosha/akosha/functions/query/console"
)

func serve(t *testing.T, h http.Handler, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(console.Pattern, h)
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, r)
	return rec
}

// assetRe finds the files index.html names.
var assetRe = regexp.MustCompile(`(?:src|href)="([^"]+)"`)

// The page names only files of the bundle, on this server: nothing is loaded
// from another host at run time, and every file it names is there.
func TestThePageNamesOnlyItsOwnFiles(t *testing.T) {
	h := console.Handler()
	rec := serve(t, h, "/ui/", nil)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /ui/ = %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	page := rec.Body.String()
	refs := assetRe.FindAllStringSubmatch(page, -1)
	if len(refs) < 2 {
		t.Fatalf("the page names %d files: %s", len(refs), page)
	}
	for _, m := range refs {
		ref := m[1]
		if ref == "data:," || strings.HasPrefix(ref, "#") {
			continue
		}
		if strings.Contains(ref, "//") {
			t.Errorf("the page loads %q from another host", ref)
			continue
		}
		if got := serve(t, h, "/ui/"+ref, nil); got.Code != http.StatusOK || got.Body.Len() == 0 {
			t.Errorf("the page names %s, which answers %d", ref, got.Code)
		}
	}
	csp := rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("Content-Security-Policy %q does not keep the page to its origin", csp)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("the page's Cache-Control %q, want no-cache (it names the current bundle)", cc)
	}
}

// Scripts are immutable (their names hash their content), compressed when
// the browser accepts it, and revalidated by ETag.
func TestAssetsAreCachedAndCompressed(t *testing.T) {
	h := console.Handler()
	page := serve(t, h, "/ui/index.html", nil).Body.String()
	var js string
	for _, m := range assetRe.FindAllStringSubmatch(page, -1) {
		if strings.HasSuffix(m[1], ".js") {
			js = "/ui/" + m[1]
		}
	}
	if js == "" {
		t.Fatal("the page names no script")
	}
	plain := serve(t, h, js, nil)
	if ct := plain.Header().Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Errorf("%s: Content-Type %q", js, ct)
	}
	if cc := plain.Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("%s: Cache-Control %q, want immutable", js, cc)
	}
	gz := serve(t, h, js, map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
	if gz.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("%s with gzip accepted: Content-Encoding %q", js, gz.Header().Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(unzipped, plain.Body.Bytes()) {
		t.Errorf("%s: the gzip answer is not the file (%v)", js, err)
	}
	if refused := serve(t, h, js, map[string]string{"Accept-Encoding": "gzip;q=0"}); refused.Header().Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 still got %q", refused.Header().Get("Content-Encoding"))
	}
	if again := serve(t, h, js, map[string]string{"If-None-Match": plain.Header().Get("ETag")}); again.Code != http.StatusNotModified {
		t.Errorf("%s with its ETag: %d, want 304", js, again.Code)
	}
}

// A path into the console loads the page; a missing script is a 404 with
// the API's error body, never the page served as a script.
func TestUnknownPaths(t *testing.T) {
	h := console.Handler()
	if rec := serve(t, h, "/ui/fleet", nil); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "<!doctype html>") {
		t.Errorf("GET /ui/fleet = %d, want the page", rec.Code)
	}
	rec := serve(t, h, "/ui/assets/no-such-file.js", nil)
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `"code":"not_found"`) {
		t.Errorf("a missing asset = %d %s, want the 404 error body", rec.Code, rec.Body)
	}
	if rec := serve(t, h, "/ui", nil); rec.Code != http.StatusTemporaryRedirect && rec.Code != http.StatusMovedPermanently {
		t.Errorf("GET /ui = %d, want a redirect to /ui/", rec.Code)
	}
}

// The bundle's third-party licences ship with it.
func TestLicencesShipWithTheBundle(t *testing.T) {
	rec := serve(t, console.Handler(), "/ui/THIRD_PARTY.txt", nil)
	for _, pkg := range []string{"cytoscape", "uplot", "@codemirror/view"} {
		if !strings.Contains(rec.Body.String(), pkg) {
			t.Errorf("THIRD_PARTY.txt does not name %s", pkg)
		}
	}
}
