package auth

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/akosha/akosha/internal/httpx"
)

// Limiter decides whether the request of key may go ahead now.
type Limiter interface {
	// Allow takes one token from key's bucket. When none is left it reports
	// false and how long until one is. An error means the limiter could not
	// decide; RateLimit then lets the request through and logs it.
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
}

// Rate is a token bucket's shape: it refills PerSecond tokens a second, up
// to Burst, and each request takes one. A client can send Burst requests at
// once and PerSecond a second for ever.
type Rate struct {
	PerSecond float64
	Burst     int
}

func (r Rate) validate() error {
	if !(r.PerSecond > 0) || math.IsInf(r.PerSecond, 0) || r.Burst < 1 {
		return fmt.Errorf("auth: rate limit %v/s burst %d: want a finite positive rate and a burst of at least 1",
			r.PerSecond, r.Burst)
	}
	return nil
}

// fillTime is how long an empty bucket takes to fill.
func (r Rate) fillTime() time.Duration {
	return time.Duration(float64(r.Burst) / r.PerSecond * float64(time.Second))
}

// MemoryLimiter keeps token buckets in this process. Each replica limits on
// its own, so with n replicas a client gets up to n times the rate; use
// RedisLimiter to share the buckets.
type MemoryLimiter struct {
	rate Rate
	now  func() time.Time // time.Now; tests replace it

	mu        sync.Mutex
	buckets   map[string]*bucket
	nextSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// sweepEvery is how often Allow drops the buckets that have refilled: a full
// bucket behaves exactly like a missing one, so dropping it loses nothing and
// keeps memory proportional to the recently active keys.
const sweepEvery = time.Minute

// NewMemoryLimiter returns an in-process limiter for rate.
func NewMemoryLimiter(rate Rate) (*MemoryLimiter, error) {
	if err := rate.validate(); err != nil {
		return nil, err
	}
	return &MemoryLimiter{rate: rate, now: time.Now, buckets: map[string]*bucket{}}, nil
}

// Allow implements Limiter; it never fails.
func (l *MemoryLimiter) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()

	if now.After(l.nextSweep) {
		fill := l.rate.fillTime()
		for k, b := range l.buckets {
			if now.Sub(b.last) >= fill {
				delete(l.buckets, k)
			}
		}
		l.nextSweep = now.Add(sweepEvery)
	}

	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: float64(l.rate.Burst), last: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.last); elapsed > 0 { // a clock stepping back refills nothing
		b.tokens = math.Min(float64(l.rate.Burst), b.tokens+elapsed.Seconds()*l.rate.PerSecond)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0, nil
	}
	wait := time.Duration((1 - b.tokens) / l.rate.PerSecond * float64(time.Second))
	return false, wait, nil
}

// RateLimit returns a handler that takes a token from the bucket of the
// request's principal (FromContext, so put it inside Require) or, without one,
// of its client IP, and answers 429 rate_limited with Retry-After (whole
// seconds, rounded up) when the bucket is empty. A nil l limits nothing.
//
// A limiter that fails lets the request through, logging once until it works
// again: refusing all traffic because Redis hiccupped would turn a degraded
// cache into an outage, and a 500 would tell the client nothing useful.
func RateLimit(l Limiter, next http.Handler) http.Handler {
	if l == nil {
		return next
	}
	var failing atomic.Bool
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, retry, err := l.Allow(r.Context(), limitKey(r))
		if err != nil {
			if failing.CompareAndSwap(false, true) {
				slog.Error("auth: rate limiter failed; requests pass unlimited until it recovers", "err", err)
			}
			next.ServeHTTP(w, r)
			return
		}
		if failing.CompareAndSwap(true, false) {
			slog.Info("auth: rate limiter recovered")
		}
		if !ok {
			secs := max(1, int64(math.Ceil(retry.Seconds())))
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
			httpx.WriteError(w, http.StatusTooManyRequests, httpx.CodeRateLimited,
				fmt.Sprintf("rate limit exceeded; retry in %d s", secs))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitKey names the bucket of r: its principal, or its client address.
// The prefixes keep a principal named like an address out of its bucket.
func limitKey(r *http.Request) string {
	if p, ok := FromContext(r.Context()); ok {
		return "principal:" + p.Name
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "ip:" + host
}
