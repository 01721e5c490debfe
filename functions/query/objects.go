package query

import (
	"errors"
	"net/http"
	"os"
	"time"

	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/lake/storage"
)

// serveObject answers GET /v1/objects/{key...} on a tier store (a query
// process pinned to one tier with AKOSHA_TIER): the object from its
// persistent cache, fetched from the lake on a miss, with Range support.
// Other query processes read through it before S3 (storage.ReadThrough).
// Only the pinned tier's objects are served: a store is not a general
// proxy to the lake.
//
// Every query process routes the path (Routes cannot know the tier, which is
// configuration), so a process that is no store answers the API's JSON 404.
func (f *Function) serveObject(w http.ResponseWriter, r *http.Request) {
	if f.cfg.Tier == "" {
		httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, "this process is no tier store (AKOSHA_TIER is not set)")
		return
	}
	key := r.PathValue("key")
	if err := storage.CheckKey(key); err != nil {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_key", err.Error())
		return
	}
	if storage.TierOfKey(key) != f.cfg.Tier {
		httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, "this store serves the "+f.cfg.Tier+" tier only")
		return
	}
	path, release, err := f.cache.Path(r.Context(), key, -1)
	if err != nil {
		if errors.Is(err, storage.ErrNotExist) {
			httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, "no such object")
			return
		}
		httpx.WriteErr(w, err)
		return
	}
	defer release()
	fh, err := os.Open(path)
	if err != nil {
		httpx.WriteErr(w, err)
		return
	}
	defer fh.Close()
	f.metrics.objectsServed.Inc()
	// Objects are immutable: any cached copy is good for ever.
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeContent(w, r, "", time.Time{}, fh)
}
