package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ReadThrough serves reads of a tier's objects from that tier's store (the
// hot-store and warm-store StatefulSets: query processes pinned to one tier,
// whose persistent cache holds the tier's Parquet files and indexes) before
// falling back to the lake's own store. Everything else, and every write,
// goes to the lake's store. A tier store that fails or does not have an
// object costs one round trip, never an error.
type ReadThrough struct {
	Store                    // the lake's store (S3)
	Tiers  map[string]string // tier -> base URL of its store, e.g. "hot" -> "http://akosha-hot-store:8080"
	Client *http.Client
	Token  string // bearer token for the tier stores, when they require auth
}

// ObjectsPath is where a tier store serves objects: GET {base}/v1/objects/{key}.
const ObjectsPath = "/v1/objects/"

// TierOfKey returns the tier a data or index key belongs to ("" when none):
// keys look like <table>/tier=<t>/... or <table>/_indexes/tier=<t>/....
func TierOfKey(key string) string {
	for _, part := range strings.Split(key, "/") {
		if t, ok := strings.CutPrefix(part, "tier="); ok {
			return t
		}
	}
	return ""
}

// ParseTierStores reads "hot=http://a:8080,warm=http://b:8080".
func ParseTierStores(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		tier, u, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("tier store %q: want tier=URL", item)
		}
		if _, err := url.ParseRequestURI(u); err != nil {
			return nil, fmt.Errorf("tier store %q: %w", item, err)
		}
		out[strings.TrimSpace(tier)] = strings.TrimRight(u, "/")
	}
	return out, nil
}

// Get reads from the key's tier store when there is one, else from the lake.
// Location is the lake's store's: the tier stores are caches of it.
func (r *ReadThrough) Location() string { return Location(r.Store) }

// PutClass passes the storage class on to the lake's store.
func (r *ReadThrough) PutClass(ctx context.Context, key string, body io.Reader, size int64, class string) error {
	return PutClass(ctx, r.Store, key, body, size, class)
}

func (r *ReadThrough) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if base, ok := r.Tiers[TierOfKey(key)]; ok {
		rc, err := r.getFrom(ctx, base, key, offset, length)
		if err == nil {
			return rc, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		slog.Debug("tier store miss; reading the lake", "key", key, "store", base, "err", err)
	}
	return r.Store.Get(ctx, key, offset, length)
}

func (r *ReadThrough) getFrom(ctx context.Context, base, key string, offset, length int64) (io.ReadCloser, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+ObjectsPath+key, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	switch {
	case length > 0:
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
	case offset > 0:
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	client := r.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("tier store: %s", resp.Status)
	}
	return &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

var _ = errors.New
