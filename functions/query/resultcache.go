package query

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/redis/go-redis/v9"
)

// cachedResult is an encoded answer, ready to be written again.
type cachedResult struct {
	ContentType string
	Body        []byte
}

// resultKey identifies an answer: the snapshot versions it was computed on,
// the statement with insignificant white space removed, the format and the
// row limit. A new snapshot makes old keys unreachable, never wrong.
func resultKey(versions string, sql, format string, limit int) string {
	h := sha256.New()
	fmt.Fprintf(h, "v1\x00%s\x00%s\x00%s\x00%d", versions, normalizeSQL(sql), format, limit)
	return "akosha:sql:" + hex.EncodeToString(h.Sum(nil))
}

// normalizeSQL collapses runs of white space outside quotes and drops
// trailing semicolons, so trivially reformatted statements share an entry.
// Quoted text is kept byte for byte: 'a  b' and 'a b' differ.
func normalizeSQL(sql string) string {
	var b strings.Builder
	var quote rune
	space := false
	for _, r := range strings.TrimSpace(sql) {
		if quote != 0 {
			b.WriteRune(r)
			if r == quote {
				quote = 0
			}
			continue
		}
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		if r == '\'' || r == '"' {
			quote = r
		}
		b.WriteRune(r)
	}
	return strings.TrimRight(b.String(), "; ")
}

// lru is the in-process result cache (L1), bounded in bytes.
type lru struct {
	mu       sync.Mutex
	budget   int64
	bytes    int64
	order    *list.List // front = most recent
	entries  map[string]*list.Element
	maxEntry int64
}

type lruEntry struct {
	key string
	val cachedResult
}

func newLRU(budget int64) *lru {
	return &lru{budget: budget, order: list.New(), entries: map[string]*list.Element{}, maxEntry: budget / 8}
}

func (c *lru) Get(key string) (cachedResult, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return cachedResult{}, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*lruEntry).val, true
}

func (c *lru) Put(key string, v cachedResult) {
	size := int64(len(v.Body) + len(key))
	if size > c.maxEntry {
		return // one huge answer must not flush everything else
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.order.MoveToFront(el)
		return
	}
	c.entries[key] = c.order.PushFront(&lruEntry{key: key, val: v})
	c.bytes += size
	for c.bytes > c.budget {
		el := c.order.Back()
		e := el.Value.(*lruEntry)
		c.order.Remove(el)
		delete(c.entries, e.key)
		c.bytes -= int64(len(e.val.Body) + len(e.key))
	}
}

// redisCache is the shared result cache (L2). Every call has a short
// deadline and every failure is a miss: Redis makes answers faster, never
// makes them fail.
type redisCache struct {
	client   *redis.Client
	ttl      time.Duration
	maxEntry int
	down     atomic.Bool // logged the current outage already
}

const redisTimeout = 100 * time.Millisecond

func newRedisCache(url string, ttl time.Duration) (*redisCache, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("AKOSHA_REDIS_URL: %w", err)
	}
	opts.ContextTimeoutEnabled = true
	opts.MaxRetries = 0
	opts.DialTimeout = redisTimeout
	return &redisCache{client: redis.NewClient(opts), ttl: ttl, maxEntry: 8 << 20}, nil
}

// Redis holds content type and body in one value: "<content-type>\n<body>".
func (c *redisCache) Get(ctx context.Context, key string) (cachedResult, bool) {
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	b, err := c.client.Get(ctx, key).Bytes()
	if err != nil {
		if err != redis.Nil {
			c.failed(err)
		}
		return cachedResult{}, false
	}
	c.recovered()
	ct, body, ok := strings.Cut(string(b), "\n")
	if !ok {
		return cachedResult{}, false
	}
	return cachedResult{ContentType: ct, Body: []byte(body)}, true
}

func (c *redisCache) Put(ctx context.Context, key string, v cachedResult) {
	if len(v.Body) > c.maxEntry {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	val := make([]byte, 0, len(v.ContentType)+1+len(v.Body))
	val = append(append(append(val, v.ContentType...), '\n'), v.Body...)
	if err := c.client.Set(ctx, key, val, c.ttl).Err(); err != nil {
		c.failed(err)
		return
	}
	c.recovered()
}

func (c *redisCache) failed(err error) {
	if c.down.CompareAndSwap(false, true) {
		slog.Warn("redis result cache unavailable; answering without it", "err", err)
	}
}

func (c *redisCache) recovered() {
	if c.down.CompareAndSwap(true, false) {
		slog.Info("redis result cache is back")
	}
}

func (c *redisCache) Close() error { return c.client.Close() }
