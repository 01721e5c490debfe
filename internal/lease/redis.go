package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis takes leases as Redis keys: SET key value NX PX ttl, renewed with a
// compare-and-pexpire, released with a compare-and-delete, so a process only
// ever extends or frees a lease it still holds. Redis's own clock runs the
// expiry: no clock-skew assumption between the jobs.
type Redis struct {
	client *redis.Client
	prefix string
	opts   Options
}

// NewRedis takes leases under "akosha:lease:<name>" on client.
func NewRedis(client *redis.Client, opts Options) *Redis {
	return &Redis{client: client, prefix: "akosha:lease:", opts: opts}
}

var (
	renewScript = redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`)
	delScript   = redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`)
)

// record is the value of a lease, in both backends.
type record struct {
	Holder   string    `json:"holder"`
	Token    string    `json:"token"`
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires"` // object store only; Redis keeps its own TTL
	Released bool      `json:"released,omitempty"`
}

// Acquire takes the lease name for ttl, renewing it until Release.
func (r *Redis) Acquire(ctx context.Context, name string, ttl time.Duration) (Lease, error) {
	if ttl < 3*time.Millisecond {
		return nil, fmt.Errorf("lease %q: ttl %v too short", name, ttl)
	}
	key := r.prefix + name
	rec := record{Holder: r.opts.holder(), Token: newToken(), Acquired: r.opts.now().UTC()}
	val, _ := json.Marshal(rec)
	ok, err := r.client.SetNX(ctx, key, val, ttl).Result()
	if err != nil {
		return nil, fmt.Errorf("lease %q: redis: %w", name, err)
	}
	if !ok {
		held := &HeldError{Name: name, Holder: "unknown"}
		if b, err := r.client.Get(ctx, key).Bytes(); err == nil {
			var other record
			if json.Unmarshal(b, &other) == nil && other.Holder != "" {
				held.Holder = other.Holder
			}
		}
		if d, err := r.client.PTTL(ctx, key).Result(); err == nil && d > 0 {
			held.Expires = r.opts.now().Add(d)
		}
		return nil, held
	}
	l := &redisLease{r: r, key: key, val: string(val)}
	l.ren = startRenewer(ttl, r.opts.now, func(ctx context.Context) (bool, error) {
		n, err := renewScript.Run(ctx, r.client, []string{key}, l.val, ttl.Milliseconds()).Int64()
		if err != nil {
			return false, err
		}
		return n == 0, nil
	})
	return l, nil
}

type redisLease struct {
	r    *Redis
	key  string
	val  string
	ren  *renewer
	once sync.Once
	err  error
}

func (l *redisLease) Lost() <-chan struct{} { return l.ren.lost }

func (l *redisLease) Release(ctx context.Context) error {
	l.once.Do(func() {
		if l.ren.halt() {
			return // lost: it is someone else's now, or gone
		}
		err := delScript.Run(ctx, l.r.client, []string{l.key}, l.val).Err()
		if err != nil && !errors.Is(err, redis.Nil) {
			l.err = fmt.Errorf("release lease %s: %w", l.key, err)
		}
	})
	return l.err
}
