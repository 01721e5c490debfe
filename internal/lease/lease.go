// Package lease gives a job exclusive use of a name for as long as it runs,
// so that two runs of one job (two CronJob pods, or an operator's manual run
// beside the scheduled one) never fight.
//
// Two backends: Redis (SET NX PX with renewal) when the deployment has Redis,
// else the lake's own object store (lease objects written with put-if-absent).
// Both give the same contract:
//
//   - Acquire returns a Lease or an error wrapping ErrHeld (a *HeldError with
//     the holder and the expiry) when another holder has it.
//   - The lease expires ttl after its last renewal; a background goroutine owned
//     by the Lease renews it every ttl/3. If renewal finds the lease taken or
//     cannot renew it for a whole ttl, Lost() is closed: the job should stop.
//   - Release stops the renewal goroutine and frees the lease (only if it is
//     still ours).
//
// A lease is advisory exclusion, not the lake's correctness: the Delta log's
// put-if-absent commits keep the lake consistent even if two jobs did run at
// once (a compaction that lost a race aborts). The lease keeps them from
// wasting work and from reporting confusing results.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/akosha/akosha/internal/config"
	"github.com/akosha/akosha/lake/storage"
)

// KeyRedisURL is the Redis the jobs take their leases from; empty: the
// lake's object store.
var KeyRedisURL = config.Register(config.Key{Name: "AKOSHA_REDIS_URL", Help: "Redis for the shared result cache, rate limits and job leases; empty: none"})

// ErrHeld is returned (wrapped in a *HeldError) when another holder has the lease.
var ErrHeld = errors.New("lease held by another holder")

// HeldError says who holds a lease and until when.
type HeldError struct {
	Name    string
	Holder  string
	Expires time.Time // zero when unknown
}

func (e *HeldError) Error() string {
	exp := "unknown"
	if !e.Expires.IsZero() {
		exp = e.Expires.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("lease %q is held by %s (expires %s)", e.Name, e.Holder, exp)
}

// Is makes errors.Is(err, ErrHeld) true.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// Lease is one held lease.
type Lease interface {
	// Release stops renewing and frees the lease if it is still ours. It is
	// safe to call more than once.
	Release(ctx context.Context) error
	// Lost is closed when the lease was lost (taken over after it expired,
	// or not renewable for a whole ttl) or released.
	Lost() <-chan struct{}
}

// Acquirer is a lease backend.
type Acquirer interface {
	Acquire(ctx context.Context, name string, ttl time.Duration) (Lease, error)
}

// Options are common to both backends.
type Options struct {
	// Holder names this process in HeldError messages; default host:pid.
	Holder string
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// MaxSkew (object store backend only) is how far apart the wall clocks
	// of two job processes may be. A lease object's expiry is written by its
	// holder's clock and read by a taker's, so a taker waits until
	// expires+MaxSkew by its own clock before taking an expired lease over.
	// Default 2 s (NTP-synced nodes are within milliseconds); negative: 0.
	MaxSkew time.Duration
}

func (o Options) maxSkew() time.Duration {
	switch {
	case o.MaxSkew < 0:
		return 0
	case o.MaxSkew == 0:
		return 2 * time.Second
	}
	return o.MaxSkew
}

func (o Options) holder() string {
	if o.Holder != "" {
		return o.Holder
	}
	h, _ := os.Hostname()
	return fmt.Sprintf("%s:%d", h, os.Getpid())
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func newToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// renewer is the goroutine that keeps a lease alive: it calls renew every
// interval; renew returns lost=true when the lease is no longer ours. A
// renewal error is retried; after ttl without a successful renewal the lease
// counts as lost (another may have taken it by now).
type renewer struct {
	lost   chan struct{}
	stop   context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex // guards closed and close(lost)
	closed bool
}

func startRenewer(ttl time.Duration, now func() time.Time, renew func(ctx context.Context) (lost bool, err error)) *renewer {
	ctx, cancel := context.WithCancel(context.Background())
	r := &renewer{lost: make(chan struct{}), stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		every := max(ttl/3, time.Millisecond)
		tick := time.NewTicker(every)
		defer tick.Stop()
		last := now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			// A renewal only counts from when it started: one that stalls
			// and lands late must not stretch the lease past what a taker
			// reading the expiry saw.
			start := now()
			if start.Sub(last) >= ttl {
				r.markLost()
				return
			}
			rctx, rcancel := context.WithTimeout(ctx, every)
			lost, err := renew(rctx)
			rcancel()
			if ctx.Err() != nil {
				return
			}
			switch {
			case lost:
				r.markLost()
				return
			case err == nil:
				last = start
			}
		}
	}()
	return r
}

func (r *renewer) markLost() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		close(r.lost)
	}
}

// halt stops the goroutine and waits for it; it reports whether the lease
// was already lost.
func (r *renewer) halt() (wasLost bool) {
	r.stop()
	<-r.done
	r.mu.Lock()
	wasLost = r.closed
	r.mu.Unlock()
	r.markLost()
	return wasLost
}

// Open returns the Redis backend when redisURL is set, else the object store
// backend on store. close frees the Redis client.
func Open(redisURL string, store storage.Store, opts Options) (a Acquirer, close func() error, err error) {
	if redisURL == "" {
		if store == nil {
			return nil, nil, errors.New("lease: neither Redis nor an object store")
		}
		return NewStore(store, opts), func() error { return nil }, nil
	}
	o, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("lease: AKOSHA_REDIS_URL: %w", err)
	}
	c := redis.NewClient(o)
	return NewRedis(c, opts), c.Close, nil
}
