package cache

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// fetchParallelism bounds the downloads one Fetch runs at once: enough to
// keep S3 busy, few enough not to starve the other queries sharing the link.
// Lake files are often small (one ingest commit's partition), so per-request
// latency, not bandwidth, bounds a cold scan: 3,000 files of 40 KB took 28 s
// at 8 at once.
const fetchParallelism = 32

// copyBufferSize is the read size of a download: large reads keep syscalls
// per gigabyte low on NVMe.
const copyBufferSize = 256 << 10

// Lease pins the files it hands out: none of them is evicted until Release.
type Lease struct {
	// Paths holds the local file of each requested object, in request order.
	Paths []string

	c        *Cache
	ents     []*entry
	released atomic.Bool
}

// Release unpins the lease's files. It is safe to call more than once, and on
// a nil lease; the paths must not be used afterwards.
func (l *Lease) Release() {
	if l == nil || l.c == nil || !l.released.CompareAndSwap(false, true) {
		return
	}
	l.c.release(l.ents)
}

// Path returns the local file holding the whole object at key, downloading it
// if the cache does not hold it. size is the size the Delta log records (-1
// when unknown); an object of another size is an error wrapping
// ErrSizeMismatch. The file stays pinned until release is called.
func (c *Cache) Path(ctx context.Context, key string, size int64) (path string, release func(), err error) {
	e, err := c.acquire(ctx, key, size)
	if err != nil {
		return "", nil, err
	}
	l := &Lease{Paths: []string{e.path}, c: c, ents: []*entry{e}}
	return e.path, l.Release, nil
}

// Fetch returns a lease on the local files of objs, in order, downloading up
// to fetchParallelism of the missing ones at once. On error nothing stays
// pinned and the downloads it alone was waiting for are cancelled. All the
// files stay pinned together until Release, so a query needing more than the
// budget gets it, and the cache shrinks back once the query is done.
func (c *Cache) Fetch(ctx context.Context, objs []Object) (*Lease, error) {
	l := &Lease{Paths: make([]string, len(objs)), c: c, ents: make([]*entry, len(objs))}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fetchParallelism)
	for i, o := range objs {
		g.Go(func() error {
			e, err := c.acquire(gctx, o.Key, o.Size)
			if err != nil {
				return err
			}
			l.ents[i], l.Paths[i] = e, e.path
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		l.Release()
		return nil, err
	}
	return l, nil
}

// call is one download, shared by every caller that wants the object while it
// runs. waiters, finished, ent and err are guarded by Cache.mu; ent and err
// are final once done is closed.
type call struct {
	key    string
	size   int64
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	waiters  int
	finished bool
	ent      *entry // on success; pinned once for each waiter counted at the end
	err      error
}

// acquire returns the entry for key, pinned for the caller.
func (c *Cache) acquire(ctx context.Context, key string, size int64) (*entry, error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fetch %s: %w", key, err)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("fetch %s: %w", key, ErrClosed)
	}
	if e, ok := c.entries[key]; ok {
		e.pins++
		c.stats.Hits++
		c.m.hits.Inc()
		now := time.Now()
		touch := c.touchLocked(e, now)
		c.mu.Unlock()
		if touch {
			// Best effort: the time only orders eviction after a restart.
			// A zero access time leaves the access time alone.
			_ = os.Chtimes(e.path, time.Time{}, now)
		}
		return c.checkSize(e, size)
	}
	c.stats.Misses++
	c.m.misses.Inc()
	cl := c.inflight[key]
	if cl == nil {
		cl = c.startLocked(key, size)
	}
	cl.waiters++
	c.mu.Unlock()

	select {
	case <-cl.done:
	case <-ctx.Done():
		c.mu.Lock()
		if !cl.finished {
			cl.waiters--
			if cl.waiters == 0 {
				// Nobody else wants it: stop the download, and let the next
				// caller start a fresh one rather than join a dying one.
				cl.cancel()
				if c.inflight[key] == cl {
					delete(c.inflight, key)
				}
			}
			c.mu.Unlock()
			return nil, fmt.Errorf("fetch %s: %w", key, ctx.Err())
		}
		// It finished as we gave up: our pin is already counted, take it.
		c.mu.Unlock()
	}
	if cl.err != nil {
		return nil, cl.err
	}
	return c.checkSize(cl.ent, size)
}

// checkSize verifies a pinned entry against the size the caller expects,
// unpinning it on a mismatch. An entry was verified when it was downloaded,
// so a mismatch means the log and the object disagree: an error, not a reason
// to download again.
func (c *Cache) checkSize(e *entry, size int64) (*entry, error) {
	if size >= 0 && e.size != size {
		c.release([]*entry{e})
		return nil, fmt.Errorf("fetch %s: object has %d bytes, expected %d: %w", e.key, e.size, size, ErrSizeMismatch)
	}
	return e, nil
}

// startLocked starts the download of key. Its context derives from the
// cache's, not the first caller's: it serves every waiter, and ends when the
// last one stops waiting or the cache closes. So every store call runs under
// the latest deadline among the callers still waiting, and no longer.
func (c *Cache) startLocked(key string, size int64) *call {
	ctx, cancel := context.WithCancel(c.base)
	cl := &call{key: key, size: size, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	c.inflight[key] = cl
	c.stats.Downloads++
	c.wg.Add(1)
	go c.download(cl)
	return cl
}

// download runs one call: store to temporary file, then into place.
func (c *Cache) download(cl *call) {
	defer c.wg.Done()
	defer cl.cancel()

	start := time.Now()
	tmp, n, err := c.fetchToTemp(cl.ctx, cl.key, cl.size)
	c.m.fetchSeconds.Observe(time.Since(start).Seconds())
	c.m.fetched.Add(float64(n))

	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.FetchedBytes += n
	cl.finished = true
	current := c.inflight[cl.key] == cl
	if current {
		delete(c.inflight, cl.key)
	}
	switch {
	case err != nil && c.closed && cl.ctx.Err() != nil:
		err = ErrClosed // interrupted by Close, not a store failure
	case err != nil:
	case !current:
		// Every waiter left: nobody asked for the file, so don't keep it.
		os.Remove(tmp)
		err = context.Canceled
	case c.entries[cl.key] != nil:
		// Cannot happen while only the current call places a key's file,
		// but an entry already there is as good as ours.
		os.Remove(tmp)
		cl.ent = c.entries[cl.key]
	default:
		if cl.ent, err = c.placeLocked(cl.key, tmp, n); err != nil {
			os.Remove(tmp)
		}
	}
	if err != nil {
		cl.err = fmt.Errorf("fetch %s: %w", cl.key, err)
	} else {
		cl.ent.pins += cl.waiters
		// Make room if the new file overflowed the budget. It is pinned by
		// its waiters, so an object larger than the whole budget is still
		// served, and evicted once they release it.
		c.evictLocked()
	}
	close(cl.done)
}

// fetchToTemp copies the object into a fresh temporary file and verifies its
// size, returning the file (synced) and the bytes read from the store.
func (c *Cache) fetchToTemp(ctx context.Context, key string, size int64) (tmp string, n int64, err error) {
	rc, size, err := c.openObject(ctx, key, size)
	if err != nil {
		return "", 0, err
	}
	defer rc.Close()
	// Read one byte past the expected size: enough to tell a longer object
	// without downloading all of it.
	src := io.LimitReader(ctxReader{ctx, rc}, size+1)
	tmp, err = c.writeTemp("fetch-*", func(f *os.File) error {
		var err error
		n, err = io.CopyBuffer(writerOnly{f}, src, make([]byte, copyBufferSize))
		if err == nil {
			err = sizeMismatch(n, size)
		}
		return err
	})
	return tmp, n, err
}

// writeTemp creates a temporary file named by pattern in the cache's
// temporary directory, fills it, and syncs it. On any error the file is
// removed.
func (c *Cache) writeTemp(pattern string, fill func(*os.File) error) (string, error) {
	f, err := os.CreateTemp(c.tmp, pattern)
	if err != nil {
		return "", err
	}
	err = fill(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// openObject opens the whole object at key, asking the store for its size
// first when the caller does not know it (size < 0).
func (c *Cache) openObject(ctx context.Context, key string, size int64) (io.ReadCloser, int64, error) {
	if size < 0 {
		info, err := c.store.Head(ctx, key)
		if err != nil {
			return nil, 0, err
		}
		size = info.Size
	}
	rc, err := c.store.Get(ctx, key, 0, -1)
	if err != nil {
		return nil, 0, err
	}
	return rc, size, nil
}

// sizeMismatch is the error for an object of which n bytes were read, at
// most size+1 (one more tells a longer object without reading all of it),
// when size were expected; nil when they match.
func sizeMismatch(n, size int64) error {
	switch {
	case n > size:
		return fmt.Errorf("object is larger than the expected %d bytes: %w", size, ErrSizeMismatch)
	case n < size:
		return fmt.Errorf("object has %d bytes, expected %d: %w", n, size, ErrSizeMismatch)
	}
	return nil
}

// ctxReader ends a copy when its context ends, for stores whose readers do
// not watch the context themselves (a local file).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// writerOnly hides *os.File's ReadFrom, so io.CopyBuffer uses our buffer
// instead of the file's 32 KiB fallback.
type writerOnly struct{ io.Writer }
