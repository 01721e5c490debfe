// Package cache keeps immutable lake objects (Parquet data files and index
// files) on local disk for the query path, so DuckDB and the vector search read
// NVMe instead of object storage.
//
// Lake objects never change once written, so the cache never invalidates
// anything: an object is either held in full or absent, and it only leaves to
// make room. Files live under the cache directory at their key
// (dir/memories/tier=hot/system_id=a/day=2026-11-01/x.parquet), which keeps the
// hive-style partition directories DuckDB's hive_partitioning reads.
//
// The rules:
//
//   - One download per object however many callers want it at once. Callers
//     that find a download under way wait for it; a caller whose context ends
//     stops waiting, and the download is cancelled when nobody waits any more.
//   - Every download goes to a temporary file in dir/.tmp, is checked against
//     the size the Delta log records, fsynced, and renamed into place, so a
//     path the cache hands out always holds the whole object.
//   - Paths are handed out pinned (a Lease): a pinned file is never evicted,
//     because a query may be reading it.
//   - A byte budget bounds the files held. When it is exceeded the least
//     recently used unpinned files are deleted. Pinned files may push the cache
//     over budget (a query needs all its files at once, and an object larger
//     than the whole budget is still served); the excess is evicted as soon as
//     the pins are released.
//   - The directory outlives the process: Open indexes the files already there,
//     using file modification times as recency, and hits refresh that time.
//
// The cache owns its directory: every regular file under it (except .tmp) is
// taken to be a cached object and may be evicted.
package cache

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/akosha/akosha/lake/storage"
)

var (
	// ErrClosed is returned (wrapped) by calls on a closed cache, and to
	// callers whose download Close interrupted.
	ErrClosed = errors.New("cache closed")
	// ErrSizeMismatch is returned (wrapped) when an object's size is not the
	// size the caller expected (the size the Delta log records).
	ErrSizeMismatch = errors.New("object size mismatch")
)

// tmpName is the directory, inside the cache directory, that holds downloads
// in progress. It is a reserved key prefix.
const tmpName = ".tmp"

// Object names one lake object and the size the Delta log records for it.
type Object struct {
	Key  string
	Size int64 // expected size in bytes; -1 when unknown (the cache asks the store)
}

// Cache is a directory of immutable lake objects with a byte budget.
// It is safe for concurrent use.
type Cache struct {
	dir    string
	tmp    string
	budget int64
	store  storage.Store
	m      *metrics
	reg    prometheus.Registerer

	// base is the parent of every download's context: Close cancels it.
	base   context.Context
	cancel context.CancelFunc
	// wg counts download and write-back goroutines, so Close can wait for
	// them.
	wg sync.WaitGroup
	// writeSlot lets one ReadAll write-back at a time write its file.
	writeSlot chan struct{}

	mu       sync.Mutex
	closed   bool
	entries  map[string]*entry
	lru      *list.List // of *entry; front is the most recently used
	inflight map[string]*call
	stats    Stats
	onRemove func(key string) // see OnRemove
}

// Stats are the cache's counters since Open, and its current size.
type Stats struct {
	Hits         int64 // requests answered by a file already in the cache
	Misses       int64 // requests that waited for a download, their own or a shared one
	Downloads    int64 // downloads started; fewer than Misses when callers shared one
	FetchedBytes int64 // bytes read from the store, including by downloads that failed
	Evictions    int64 // files deleted to stay within the budget
	Bytes        int64 // bytes held now; above Budget only while pinned files need it
	Budget       int64
	Objects      int // files held now
	Pinned       int // files held now that some lease pins
}

// Open opens (creating it if needed) the cache directory dir with a budget of
// budget bytes, filling misses from store. It deletes leftover temporary files
// and indexes the objects a previous process left, evicting the least recently
// used ones if they exceed the budget.
//
// reg receives the akosha_cache_* metrics; nil registers nothing. One registry
// holds one cache's metrics (wrap reg with prometheus.WrapRegistererWith to
// register more); Close unregisters them.
func Open(dir string, budget int64, store storage.Store, reg prometheus.Registerer) (*Cache, error) {
	if budget <= 0 {
		return nil, fmt.Errorf("open cache %s: budget must be positive, got %d", dir, budget)
	}
	if store == nil {
		return nil, fmt.Errorf("open cache %s: no store", dir)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open cache %s: %w", dir, err)
	}
	tmp := filepath.Join(abs, tmpName)
	// Whatever is in .tmp is a download a previous process never finished.
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("open cache %s: remove leftover downloads: %w", dir, err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("open cache %s: %w", dir, err)
	}
	c := &Cache{
		dir:       abs,
		tmp:       tmp,
		budget:    budget,
		store:     store,
		m:         newMetrics(budget),
		entries:   make(map[string]*entry),
		lru:       list.New(),
		inflight:  make(map[string]*call),
		writeSlot: make(chan struct{}, 1),
	}
	c.stats.Budget = budget
	if err := c.scan(); err != nil {
		return nil, fmt.Errorf("open cache %s: %w", dir, err)
	}
	if reg != nil {
		if err := c.m.register(reg); err != nil {
			return nil, fmt.Errorf("open cache %s: metrics: %w", dir, err)
		}
		c.reg = reg
	}
	c.base, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Dir is the directory the cache keeps its files in (absolute).
func (c *Cache) Dir() string { return c.dir }

// Close refuses new requests, cancels the downloads in flight (their waiters
// get ErrClosed) and waits for them to finish, then unregisters the metrics.
// Files stay on disk for the next Open. Leases may still be released after
// Close. Close is idempotent.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	if c.reg != nil {
		c.m.unregister(c.reg)
	}
	return nil
}

// Stats returns the counters and current size.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Objects = len(c.entries)
	for _, e := range c.entries {
		if e.pins > 0 {
			s.Pinned++
		}
	}
	return s
}

// checkKey accepts the keys the store accepts, except the cache's own
// temporary directory.
func checkKey(key string) error {
	if err := storage.CheckKey(key); err != nil {
		return err
	}
	if key == tmpName || strings.HasPrefix(key, tmpName+"/") {
		return fmt.Errorf("key %q: %s/ is reserved for the cache's downloads", key, tmpName)
	}
	return nil
}

// pathOf is the file that holds key; the key must be valid.
func (c *Cache) pathOf(key string) string {
	return filepath.Join(c.dir, filepath.FromSlash(key))
}
