package cache

// Erasure (issue 16): a cached copy of an object the lake no longer holds
// (vacuum deleted a data file a delete or an expiry replaced, or an index
// covering one) may hold forgotten records. The owner lists the cached keys
// (Keys), decides which objects are gone from the store, and Forget deletes
// their files. Objects are immutable, so a key that is gone never comes
// back with other content; a pinned file is left to the next pass.

// Keys returns the keys of the objects cached now.
func (c *Cache) Keys() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.entries))
	for k := range c.entries {
		out = append(out, k)
	}
	return out
}

// Forget deletes the cached files of keys that no lease pins, and reports
// how many it deleted.
func (c *Cache) Forget(keys []string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, k := range keys {
		if e := c.entries[k]; e != nil && e.pins == 0 {
			c.removeLocked(e)
			n++
		}
	}
	return n
}

// OnRemove has fn called with the key of every object the cache removes
// from now on, evicted or forgotten, so that what a caller derived from a
// cached object (a parsed footer holds its column statistics) goes with
// it. fn runs under the cache's lock, right after the file is deleted:
// it must be quick and must not call the cache. Set it before the cache is
// used; a later call replaces fn.
func (c *Cache) OnRemove(fn func(key string)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onRemove = fn
}
