package vecindex

import (
	"container/list"
	"sync"
)

// DefaultFiles is how many parsed footers Files keeps by default: a month
// of day files in each of a few tiers, with room to spare. A 1M-record
// month's day file (33k rows, 3 row groups of 51 column chunks) keeps
// about 90 KB once the offset indexes hits read are decoded: 256 are
// about 22 MB.
const DefaultFiles = 256

// Files keeps the parsed footers (File) of the data files searches read
// hits from, by object key, least recently used out first. Data objects
// are immutable and their keys unique, so an entry never goes stale; it
// must still go when its object leaves the local cache (Drop), as a
// footer holds the object's column statistics. It is safe for concurrent
// use.
type Files struct {
	max int

	mu  sync.Mutex
	lru *list.List // of *filesEntry; front is the most recently used
	m   map[string]*list.Element
}

type filesEntry struct {
	key string
	f   *File
}

// NewFiles returns a Files holding at most max footers (DefaultFiles when
// max <= 0).
func NewFiles(max int) *Files {
	if max <= 0 {
		max = DefaultFiles
	}
	return &Files{max: max, lru: list.New(), m: make(map[string]*list.Element)}
}

// Get returns the footer kept for key, or nil.
func (c *Files) Get(key string) *File {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[key]
	if !ok {
		return nil
	}
	c.lru.MoveToFront(el)
	return el.Value.(*filesEntry).f
}

// Put keeps f as key's footer, dropping the least recently used beyond the
// bound.
func (c *Files) Put(key string, f *File) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[key]; ok {
		el.Value.(*filesEntry).f = f
		c.lru.MoveToFront(el)
		return
	}
	c.m[key] = c.lru.PushFront(&filesEntry{key: key, f: f})
	for c.lru.Len() > c.max {
		el := c.lru.Back()
		c.lru.Remove(el)
		delete(c.m, el.Value.(*filesEntry).key)
	}
}

// Drop forgets key's footer, if kept. It takes only Files' own lock, so
// the local cache may call it while holding its own.
func (c *Files) Drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[key]; ok {
		c.lru.Remove(el)
		delete(c.m, key)
	}
}

// Len is the number of footers kept.
func (c *Files) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Keys are the keys of the footers kept.
func (c *Files) Keys() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.m))
	for k := range c.m {
		out = append(out, k)
	}
	return out
}
