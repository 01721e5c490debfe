package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// ReadAll returns the whole object at key in memory, for callers that decode
// it into memory anyway (vector indexes). A cached object is read from its
// file. A missing one is read from the store straight into memory and handed
// back at once; writing it into the cache (temporary file, fsync, rename)
// happens in the background. So a cold reader waits for the network only,
// not for the disk: on this machine fsyncing 1.8 GB of indexes took longer
// than fetching them.
//
// size is the expected size (-1: ask the store), checked as Path checks it.
// The returned bytes may be shared with the background write: the caller must
// not modify them.
func (c *Cache) ReadAll(ctx context.Context, key string, size int64) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("read %s: %w", key, ErrClosed)
	}
	_, cached := c.entries[key]
	_, downloading := c.inflight[key]
	if !cached && !downloading {
		c.stats.Misses++
		c.stats.Downloads++
		c.m.misses.Inc()
		// Counted in wg now, under the lock, so Close cannot miss the
		// write-back this read starts.
		c.wg.Add(1)
	}
	c.mu.Unlock()
	if cached || downloading {
		return c.readCached(ctx, key, size)
	}

	data, err := c.readStore(ctx, key, size)
	if err != nil {
		c.wg.Done()
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	go c.writeBack(key, data)
	return data, nil
}

// Has reports whether the cache holds key's file now.
func (c *Cache) Has(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.entries[key]
	return ok
}

// Prefetch starts downloading key into the cache in the background, unless
// the cache holds it or a download of it is running, and returns at once.
// A reader that can do with a few ranged reads now uses it so the next
// reader finds the whole object. size is as for Path.
func (c *Cache) Prefetch(key string, size int64) {
	if checkKey(key) != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.entries[key] != nil || c.inflight[key] != nil {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.idle()
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.closed && c.entries[key] == nil && c.inflight[key] == nil {
			c.startLocked(key, size)
		}
	}()
}

// backgroundDelay is how long work nobody waits for (write-backs,
// prefetches) holds off: a cold search is over in about that time.
const backgroundDelay = time.Second

// idle waits backgroundDelay, or until the cache closes.
func (c *Cache) idle() {
	t := time.NewTimer(backgroundDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.base.Done():
	}
}

// readCached reads the file of a cached (or downloading) object.
func (c *Cache) readCached(ctx context.Context, key string, size int64) ([]byte, error) {
	e, err := c.acquire(ctx, key, size)
	if err != nil {
		return nil, err
	}
	defer c.release([]*entry{e})
	data, err := os.ReadFile(e.path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if int64(len(data)) != e.size {
		return nil, fmt.Errorf("read %s: cached file has %d bytes, expected %d: %w", key, len(data), e.size, ErrSizeMismatch)
	}
	return data, nil
}

// readStore reads the object from the store, verifying its size.
func (c *Cache) readStore(ctx context.Context, key string, size int64) (data []byte, err error) {
	start := time.Now()
	var n int64
	defer func() {
		c.m.fetchSeconds.Observe(time.Since(start).Seconds())
		c.m.fetched.Add(float64(n))
		c.mu.Lock()
		c.stats.FetchedBytes += n
		c.mu.Unlock()
	}()
	rc, size, err := c.openObject(ctx, key, size)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data = make([]byte, size+1)
	k, err := io.ReadFull(io.LimitReader(ctxReader{ctx, rc}, size+1), data)
	n = int64(k)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if err := sizeMismatch(n, size); err != nil {
		return nil, err
	}
	return data[:size], nil
}

// writeBack puts data into the cache as key's file, unless another download
// placed it first. It finishes even when the cache is closing (Close waits
// for it): the file is then there for the next Open. A failure only costs a
// later miss.
func (c *Cache) writeBack(key string, data []byte) {
	defer c.wg.Done()
	// Later and one at a time: a cold search reads many objects at once,
	// and their copies into the page cache would take the cores it is
	// decoding on. Close ends the wait (the file is still written).
	c.idle()
	c.writeSlot <- struct{}{}
	tmp, err := c.writeTemp("write-*", func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
	<-c.writeSlot
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[key] != nil {
		os.Remove(tmp)
		return
	}
	if _, err := c.placeLocked(key, tmp, int64(len(data))); err != nil {
		os.Remove(tmp)
		return
	}
	c.evictLocked()
}
