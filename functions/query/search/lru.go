package search

import (
	"container/list"
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// RefLRU is a byte-bounded LRU of loaded values with reference counts: an
// evicted value is closed only once no caller holds it. Loads of one key
// are shared.
type RefLRU[V any] struct {
	budget int64

	mu     sync.Mutex
	used   int64
	ll     *list.List // of *refEntry[V], front = most recent
	m      map[string]*refEntry[V]
	flight singleflight.Group
}

type refEntry[V any] struct {
	key   string
	val   V
	size  int64
	refs  int
	gone  bool
	close func()
	elem  *list.Element
}

func NewRefLRU[V any](budget int64) *RefLRU[V] {
	return &RefLRU[V]{budget: budget, ll: list.New(), m: map[string]*refEntry[V]{}}
}

type LoadFunc[V any] func(ctx context.Context) (V, int64, func(), error)

func (c *RefLRU[V]) Get(ctx context.Context, key string, load LoadFunc[V]) (V, func(), error) {
	for attempt := 0; ; attempt++ {
		if e := c.take(key); e != nil {
			return e.val, func() { c.put(e) }, nil
		}
		_, err, _ := c.flight.Do(key, func() (any, error) {
			if e := c.peek(key); e != nil {
				return nil, nil
			}
			// The load outlives one caller's cancellation: others share it.
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
			defer cancel()
			val, size, closer, err := load(lctx)
			if err != nil {
				return nil, err
			}
			c.insert(&refEntry[V]{key: key, val: val, size: size, close: closer})
			return nil, nil
		})
		if err != nil {
			var zero V
			return zero, nil, err
		}
		if attempt > 3 {
			// Evicted between load and take every time: the budget is far
			// too small for this value; load a private copy.
			val, _, closer, err := load(ctx)
			if err != nil {
				var zero V
				return zero, nil, err
			}
			return val, func() {
				if closer != nil {
					closer()
				}
			}, nil
		}
	}
}

func (c *RefLRU[V]) peek(key string) *refEntry[V] {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key]
}

func (c *RefLRU[V]) take(key string) *refEntry[V] {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[key]
	if e == nil {
		return nil
	}
	e.refs++
	c.ll.MoveToFront(e.elem)
	return e
}

func (c *RefLRU[V]) put(e *refEntry[V]) {
	c.mu.Lock()
	e.refs--
	done := e.gone && e.refs == 0
	c.mu.Unlock()
	if done && e.close != nil {
		e.close()
	}
}

func (c *RefLRU[V]) insert(e *refEntry[V]) {
	c.mu.Lock()
	e.elem = c.ll.PushFront(e)
	c.m[e.key] = e
	c.used += e.size
	var closing []*refEntry[V]
	for c.used > c.budget && c.ll.Len() > 1 {
		old := c.ll.Back().Value.(*refEntry[V])
		c.removeLocked(old)
		if old.refs == 0 {
			closing = append(closing, old)
		}
	}
	c.mu.Unlock()
	for _, old := range closing {
		if old.close != nil {
			old.close()
		}
	}
}

func (c *RefLRU[V]) removeLocked(e *refEntry[V]) {
	c.ll.Remove(e.elem)
	delete(c.m, e.key)
	c.used -= e.size
	e.gone = true
}

// Clear drops every entry (closing those no caller holds).
func (c *RefLRU[V]) Clear() {
	c.mu.Lock()
	var closing []*refEntry[V]
	for c.ll.Len() > 0 {
		e := c.ll.Back().Value.(*refEntry[V])
		c.removeLocked(e)
		if e.refs == 0 {
			closing = append(closing, e)
		}
	}
	c.mu.Unlock()
	for _, e := range closing {
		if e.close != nil {
			e.close()
		}
	}
}
