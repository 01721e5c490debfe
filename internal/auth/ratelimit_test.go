package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/testenv"
)

func TestRateLimit(t *testing.T) {
	a := newAuthenticator(t)
	lim, err := auth.NewMemoryLimiter(auth.Rate{PerSecond: 0.5, Burst: 2})
	if err != nil {
		t.Fatal(err)
	}
	// RateLimit goes inside Require, where the principal is known.
	h := a.Require(auth.Read, auth.RateLimit(lim, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	get := func(key string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/v1/search", nil)
		r.Header.Set("X-API-Key", key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}

	steps := []struct {
		who            string
		key            string
		wantStatus     int
		wantRetryAfter string
	}{
		{"grafana's burst", viewerKey, 200, ""},
		{"grafana's burst", viewerKey, 200, ""},
		{"grafana is over its rate", viewerKey, 429, "2"}, // 0.5 tokens/s: the next in 2 s
		{"sb-fleet has its own bucket", operatorKey, 200, ""},
	}
	for i, s := range steps {
		rec := get(s.key)
		if rec.Code != s.wantStatus {
			t.Fatalf("step %d (%s): status %d, want %d", i, s.who, rec.Code, s.wantStatus)
		}
		if got := rec.Header().Get("Retry-After"); got != s.wantRetryAfter {
			t.Errorf("step %d (%s): Retry-After = %q, want %q", i, s.who, got, s.wantRetryAfter)
		}
		if s.wantStatus == 429 {
			if got := decodeCode(t, rec); got != "rate_limited" {
				t.Errorf("step %d: code = %q, want rate_limited", i, got)
			}
		}
	}
}

// brokenLimiter cannot decide, like a limiter whose store is down.
type brokenLimiter struct{}

func (brokenLimiter) Allow(context.Context, string) (bool, time.Duration, error) {
	return false, 0, errors.New("store unreachable")
}

func TestRateLimitLetsRequestsThroughWhenTheLimiterFails(t *testing.T) {
	h := auth.RateLimit(brokenLimiter{}, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	for range 3 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Code != http.StatusNoContent {
			t.Fatalf("status = %d, want the handler's 204, never a 500", rec.Code)
		}
	}
}

func TestRateLimitWithoutPrincipalLimitsByClientIP(t *testing.T) {
	lim, _ := auth.NewMemoryLimiter(auth.Rate{PerSecond: 1, Burst: 1})
	h := auth.RateLimit(lim, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	from := func(addr string) int {
		r := httptest.NewRequest(http.MethodGet, "/status", nil)
		r.RemoteAddr = addr
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code
	}
	if got := []int{from("10.0.0.1:1000"), from("10.0.0.1:2000"), from("10.0.0.2:1000")}; got[0] != 200 || got[1] != 429 || got[2] != 200 {
		t.Errorf("statuses = %v, want [200 429 200]: one bucket per IP, whatever the port", got)
	}
}

func TestRateValidation(t *testing.T) {
	for _, r := range []auth.Rate{{PerSecond: 0, Burst: 1}, {PerSecond: -1, Burst: 1}, {PerSecond: 1, Burst: 0}} {
		if _, err := auth.NewMemoryLimiter(r); err == nil {
			t.Errorf("NewMemoryLimiter(%+v) succeeded, want an error", r)
		}
	}
}

func newRedis(t *testing.T) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRedisLimiterIsSharedByReplicas(t *testing.T) {
	// Two replicas: two clients, two limiters, one Redis.
	rate := auth.Rate{PerSecond: 0.2, Burst: 3}
	l1, err := auth.NewRedisLimiter(newRedis(t), rate)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := auth.NewRedisLimiter(newRedis(t), rate)
	if err != nil {
		t.Fatal(err)
	}
	key := "principal:test-" + testenv.RandomID()
	ctx := context.Background()

	steps := []struct {
		l      *auth.RedisLimiter
		wantOK bool
	}{{l1, true}, {l2, true}, {l1, true}, {l2, false}, {l1, false}}
	for i, s := range steps {
		ok, retry, err := s.l.Allow(ctx, key)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if ok != s.wantOK {
			t.Fatalf("step %d: allowed = %v, want %v: the burst of 3 is shared", i, ok, s.wantOK)
		}
		// 0.2 tokens/s: the next token is at most 5 s away.
		if !ok && (retry <= 0 || retry > 5*time.Second) {
			t.Errorf("step %d: retryAfter = %v, want within (0, 5s]", i, retry)
		}
	}
	if ok, _, _ := l1.Allow(ctx, key+"-other"); !ok {
		t.Error("another key's bucket is empty too; want one bucket per key")
	}
}

func TestRedisLimiterRefills(t *testing.T) {
	l, err := auth.NewRedisLimiter(newRedis(t), auth.Rate{PerSecond: 20, Burst: 1})
	if err != nil {
		t.Fatal(err)
	}
	key := "principal:test-" + testenv.RandomID()
	ctx := context.Background()
	if ok, _, _ := l.Allow(ctx, key); !ok {
		t.Fatal("first request refused")
	}
	ok, retry, _ := l.Allow(ctx, key)
	if ok {
		t.Fatal("second request allowed at once, want it limited")
	}
	time.Sleep(retry)
	if ok, _, _ := l.Allow(ctx, key); !ok {
		t.Errorf("refused after waiting the %v it asked for", retry)
	}
}

func decodeCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct{ Error struct{ Code string } }
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	return body.Error.Code
}
