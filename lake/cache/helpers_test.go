package cache_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake/cache"
	"github.com/akosha/akosha/lake/storage"
)

func testCtx(t *testing.T) context.Context {
	return testenv.Context(t)
}

// body is the deterministic content of a test object of n bytes.
func body(key string, n int) []byte {
	return bytes.Repeat([]byte(key+"|"), n/(len(key)+1)+1)[:n]
}

// putObj stores an object of n bytes and returns its content.
func putObj(t *testing.T, s storage.Store, key string, n int) []byte {
	t.Helper()
	b := body(key, n)
	if err := s.Put(testCtx(t), key, bytes.NewReader(b), int64(n)); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return b
}

// openCache opens a cache that the test closes when it ends.
func openCache(t *testing.T, dir string, budget int64, s storage.Store) *cache.Cache {
	t.Helper()
	c, err := cache.Open(dir, budget, s, nil)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// get returns the path of key, failing the test on error; release unpins it.
func get(t *testing.T, c *cache.Cache, key string, size int64) (path string, release func()) {
	t.Helper()
	p, release, err := c.Path(testCtx(t), key, size)
	if err != nil {
		t.Fatalf("path %s: %v", key, err)
	}
	return p, release
}

// getReleased fetches key and unpins it at once, leaving it in the cache.
func getReleased(t *testing.T, c *cache.Cache, key string, size int64) string {
	t.Helper()
	p, release := get(t, c, key, size)
	release()
	return p
}

func fileContent(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read cached file: %v", err)
	}
	return b
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// cachedFile is where the cache in dir keeps key.
func cachedFile(dir, key string) string {
	return filepath.Join(dir, filepath.FromSlash(key))
}

// tmpEntries lists what is left in the cache's temporary directory.
func tmpEntries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, ".tmp"))
	if err != nil {
		t.Fatalf("read .tmp: %v", err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// countingStore wraps a store to count the calls the cache makes, and can
// hold every Get at a gate until the test opens it (or the Get's context
// ends), to line up concurrent callers behind one download.
type countingStore struct {
	storage.Store

	mu        sync.Mutex
	gets      map[string]int
	heads     int
	active    int // Gets in progress
	maxActive int
	cancelled int // Gets whose context ended at the gate
	gate      chan struct{}
}

func counting(s storage.Store) *countingStore {
	return &countingStore{Store: s, gets: make(map[string]int)}
}

// hold makes the next Gets wait at a gate; open lets them through.
func (s *countingStore) hold() (open func()) {
	g := make(chan struct{})
	s.mu.Lock()
	s.gate = g
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.gate = nil
			s.mu.Unlock()
			close(g)
		})
	}
}

func (s *countingStore) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	s.mu.Lock()
	s.gets[key]++
	s.active++
	s.maxActive = max(s.maxActive, s.active)
	gate := s.gate
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.active--
		s.mu.Unlock()
	}()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			s.mu.Lock()
			s.cancelled++
			s.mu.Unlock()
			return nil, ctx.Err()
		}
	}
	return s.Store.Get(ctx, key, off, n)
}

func (s *countingStore) Head(ctx context.Context, key string) (storage.ObjectInfo, error) {
	s.mu.Lock()
	s.heads++
	s.mu.Unlock()
	return s.Store.Head(ctx, key)
}

func (s *countingStore) totalGets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.gets {
		n += c
	}
	return n
}

func (s *countingStore) getsOf(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets[key]
}

func (s *countingStore) snapshot() (active, maxActive, cancelled, heads int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active, s.maxActive, s.cancelled, s.heads
}

// key builds a data-file key the way the lake lays them out.
func key(system, name string) string {
	return strings.Join([]string{"memories", "tier=hot", "system_id=" + system, "day=2026-11-01", name + ".parquet"}, "/")
}
