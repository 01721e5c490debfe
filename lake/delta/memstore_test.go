package delta

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/akosha/akosha/lake/storage"
)

// memStore is an in-memory Store with fault hooks, for the failure paths a
// real backend cannot produce on demand (timeouts after a write landed,
// failing reads, failing checkpoint writes).
type memStore struct {
	mu      sync.Mutex
	objects map[string][]byte

	// Hooks run before the operation; a non-nil error fails it. putIfAbsent
	// may also ask for the write to happen before failing (a timeout whose
	// request reached the server).
	onPutIfAbsent func(key string) (writeFirst bool, err error)
	onPut         func(key string) error
	onGet         func(key string) error
}

func newMemStore() *memStore { return &memStore{objects: map[string][]byte{}} }

func (m *memStore) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if m.onGet != nil {
		if err := m.onGet(key); err != nil {
			return nil, err
		}
	}
	m.mu.Lock()
	b, ok := m.objects[key]
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("get %s: %w", key, storage.ErrNotExist)
	}
	if offset > int64(len(b)) {
		offset = int64(len(b))
	}
	b = b[offset:]
	if length >= 0 && length < int64(len(b)) {
		b = b[:length]
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m *memStore) put(key string, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m.objects[key] = b
	return nil
}

func (m *memStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if m.onPut != nil {
		if err := m.onPut(key); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.put(key, r)
}

func (m *memStore) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	var hookErr error
	if m.onPutIfAbsent != nil {
		writeFirst, err := m.onPutIfAbsent(key)
		if err != nil && !writeFirst {
			return err
		}
		hookErr = err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objects[key]; ok {
		return fmt.Errorf("put-if-absent %s: %w", key, storage.ErrExists)
	}
	if err := m.put(key, r); err != nil {
		return err
	}
	return hookErr
}

func (m *memStore) Head(ctx context.Context, key string) (storage.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[key]
	if !ok {
		return storage.ObjectInfo{}, fmt.Errorf("head %s: %w", key, storage.ErrNotExist)
	}
	return storage.ObjectInfo{Key: key, Size: int64(len(b)), ModTime: time.Now()}, nil
}

func (m *memStore) List(ctx context.Context, prefix string) ([]storage.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []storage.ObjectInfo
	for k, b := range m.objects {
		if strings.HasPrefix(k, prefix) {
			out = append(out, storage.ObjectInfo{Key: k, Size: int64(len(b))})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (m *memStore) Delete(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, key)
	return nil
}

// listCalls counts List calls, to check that polling does not list.
type countingStore struct {
	storage.Store
	mu    sync.Mutex
	lists []string
	gets  int
}

func (c *countingStore) List(ctx context.Context, prefix string) ([]storage.ObjectInfo, error) {
	c.mu.Lock()
	c.lists = append(c.lists, prefix)
	c.mu.Unlock()
	return c.Store.List(ctx, prefix)
}

func (c *countingStore) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	c.mu.Lock()
	c.gets++
	c.mu.Unlock()
	return c.Store.Get(ctx, key, offset, length)
}

func (c *countingStore) reset() (lists []string, gets int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	lists, gets = c.lists, c.gets
	c.lists, c.gets = nil, 0
	return lists, gets
}
