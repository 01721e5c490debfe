package auth

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisKeyPrefix prefixes the Redis keys of the buckets.
const RedisKeyPrefix = "akosha:ratelimit:"

// tokenBucket takes one token from the bucket KEYS[1] (a hash of tokens and
// the time of its last update in ms) refilling ARGV[1] tokens a second up to
// ARGV[2]. It answers {1, 0} when the token was taken, else {0, ms to wait}.
//
// It runs atomically in Redis, so replicas sharing the bucket never both take
// its last token, and it reads Redis's clock, so their clocks need not agree.
// The key expires once the bucket would be full again: a full bucket and a
// missing one are the same, and idle clients leave nothing behind.
var tokenBucket = redis.NewScript(`
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate / 1000)
end

local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', string.format('%d', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, wait}
`)

// redisTimeout bounds one bucket check: a limiter slower than that costs
// every request more than the limit protects.
const redisTimeout = 250 * time.Millisecond

// redisRetryAfter is how long RedisLimiter uses only its fallback after Redis
// failed, so that an outage costs one timeout per interval, not one per request.
const redisRetryAfter = 5 * time.Second

// RedisLimiter keeps the token buckets in Redis, shared by every replica.
// While Redis fails it decides with an in-process MemoryLimiter of the same
// rate, so limits stay approximately enforced (per replica) and no request
// fails because of the limiter; the switch is logged once each way.
type RedisLimiter struct {
	client   redis.Scripter
	rate     Rate
	fallback *MemoryLimiter
	log      *slog.Logger

	degraded  atomic.Bool
	skipUntil atomic.Int64 // unix ns; Redis is not tried before it
}

// NewRedisLimiter returns a limiter for rate whose buckets live in client
// (a *redis.Client, *redis.ClusterClient or *redis.Ring).
func NewRedisLimiter(client redis.Scripter, rate Rate) (*RedisLimiter, error) {
	fallback, err := NewMemoryLimiter(rate)
	if err != nil {
		return nil, err
	}
	return &RedisLimiter{client: client, rate: rate, fallback: fallback, log: slog.Default()}, nil
}

// Allow implements Limiter. It does not fail: when Redis does, the
// in-process fallback decides.
func (l *RedisLimiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	if time.Now().UnixNano() < l.skipUntil.Load() {
		return l.fallback.Allow(ctx, key)
	}
	ok, wait, err := l.allowRedis(ctx, key)
	if err != nil {
		if ctx.Err() != nil {
			// The client went away: that says nothing about Redis.
			return l.fallback.Allow(ctx, key)
		}
		l.skipUntil.Store(time.Now().Add(redisRetryAfter).UnixNano())
		if l.degraded.CompareAndSwap(false, true) {
			l.log.Warn("auth: rate limits fall back to this process's buckets: redis failed",
				"err", err, "retry_every", redisRetryAfter)
		}
		return l.fallback.Allow(ctx, key)
	}
	if l.degraded.CompareAndSwap(true, false) {
		l.log.Info("auth: rate limits are shared in redis again")
	}
	return ok, wait, nil
}

func (l *RedisLimiter) allowRedis(ctx context.Context, key string) (bool, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	res, err := tokenBucket.Run(ctx, l.client, []string{RedisKeyPrefix + key},
		strconv.FormatFloat(l.rate.PerSecond, 'g', -1, 64), l.rate.Burst).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("auth: redis token bucket: %w", err)
	}
	if len(res) != 2 {
		return false, 0, fmt.Errorf("auth: redis token bucket: got %d values, want 2", len(res))
	}
	return res[0] == 1, time.Duration(res[1]) * time.Millisecond, nil
}
