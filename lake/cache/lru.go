package cache

import (
	"container/list"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// touchInterval bounds how often a hit rewrites a file's modification time:
// the time only orders eviction after a restart, so minute precision is plenty
// and hot files do not cost a syscall per query.
const touchInterval = time.Minute

// entry is one object held in the cache directory. All fields are guarded by
// Cache.mu.
type entry struct {
	key     string
	path    string
	size    int64
	pins    int           // leases holding the file; eviction skips it while > 0
	elem    *list.Element // position in Cache.lru
	touched time.Time     // the file's modification time as last set
}

// scan indexes the files a previous process left in the directory, oldest
// modification time least recently used, then evicts down to the budget.
func (c *Cache) scan() error {
	var found []*entry
	err := filepath.WalkDir(c.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p == c.tmp {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // symlinks and the like were never written by the cache
		}
		rel, err := filepath.Rel(c.dir, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if checkKey(key) != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		found = append(found, &entry{key: key, path: p, size: fi.Size(), touched: fi.ModTime()})
		return nil
	})
	if err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	sort.Slice(found, func(i, j int) bool { return found[i].touched.Before(found[j].touched) })

	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range found {
		c.insertLocked(e)
	}
	c.evictLocked()
	return nil
}

// insertLocked indexes e as the most recently used entry.
func (c *Cache) insertLocked(e *entry) {
	e.elem = c.lru.PushFront(e)
	c.entries[e.key] = e
	c.stats.Bytes += e.size
	c.m.bytes.Set(float64(c.stats.Bytes))
}

// placeLocked renames a complete, verified download into place and indexes it.
// It runs under the lock, as eviction does, so that creating a directory here
// and pruning an empty one there never race, and a path that eviction deletes
// is never a newer download's.
func (c *Cache) placeLocked(key, tmp string, size int64) (*entry, error) {
	p := c.pathOf(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	// No directory fsync: after a crash the worst case is a missing file,
	// which is a miss. The file's bytes were synced before the rename, so a
	// name that survives always names the whole object.
	if err := os.Rename(tmp, p); err != nil {
		return nil, err
	}
	e := &entry{key: key, path: p, size: size, touched: time.Now()}
	c.insertLocked(e)
	return e, nil
}

// evictLocked deletes least recently used unpinned entries until the cache
// fits its budget or only pinned entries are left.
func (c *Cache) evictLocked() {
	for el := c.lru.Back(); el != nil && c.stats.Bytes > c.budget; {
		prev := el.Prev()
		if e := el.Value.(*entry); e.pins == 0 {
			c.removeLocked(e)
		}
		el = prev
	}
}

// removeLocked forgets e and deletes its file, then the directories that
// leaves empty, so partition directories do not pile up over the years.
// The entry is dropped even if deleting fails: a stray file is harmless (a
// later download of the key replaces it, a restart indexes it), whereas
// keeping the entry would stall eviction on it forever.
func (c *Cache) removeLocked(e *entry) {
	c.lru.Remove(e.elem)
	delete(c.entries, e.key)
	c.stats.Bytes -= e.size
	c.stats.Evictions++
	c.m.bytes.Set(float64(c.stats.Bytes))
	c.m.evictions.Inc()
	err := os.Remove(e.path)
	if c.onRemove != nil {
		c.onRemove(e.key)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return
	}
	for d := filepath.Dir(e.path); d != c.dir && len(d) > len(c.dir); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			break // not empty (or gone): so are its parents
		}
	}
}

// touchLocked marks e most recently used. It reports whether the file's
// modification time is due for a refresh, which the caller does outside the
// lock (the caller holds a pin, so the file cannot be deleted meanwhile).
func (c *Cache) touchLocked(e *entry, now time.Time) bool {
	c.lru.MoveToFront(e.elem)
	if now.Sub(e.touched) < touchInterval {
		return false
	}
	e.touched = now
	return true
}

// release drops one pin from each entry and evicts whatever no longer fits.
func (c *Cache) release(ents []*entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range ents {
		if e != nil {
			e.pins--
		}
	}
	if c.stats.Bytes > c.budget {
		c.evictLocked()
	}
}
