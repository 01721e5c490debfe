package auth

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestMemoryLimiterTokenBucket(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l, err := NewMemoryLimiter(Rate{PerSecond: 2, Burst: 3})
	if err != nil {
		t.Fatal(err)
	}
	l.now = clock.now

	steps := []struct {
		after     time.Duration // clock moves this much first
		key       string
		wantOK    bool
		wantRetry time.Duration
	}{
		{0, "a", true, 0}, // a burst of 3
		{0, "a", true, 0},
		{0, "a", true, 0},
		{0, "a", false, 500 * time.Millisecond}, // 2/s: a token every 500 ms
		{0, "b", true, 0},                       // b has its own bucket
		{200 * time.Millisecond, "a", false, 300 * time.Millisecond},
		{300 * time.Millisecond, "a", true, 0}, // one token refilled, and taken
		{0, "a", false, 500 * time.Millisecond},
		{time.Hour, "a", true, 0}, // refills up to the burst, not beyond
		{0, "a", true, 0},
		{0, "a", true, 0},
		{0, "a", false, 500 * time.Millisecond},
	}
	for i, s := range steps {
		clock.advance(s.after)
		ok, retry, err := l.Allow(context.Background(), s.key)
		if err != nil || ok != s.wantOK || (retry-s.wantRetry).Abs() > time.Millisecond {
			t.Errorf("step %d: Allow(%s) = %v, %v, %v; want %v, %v", i, s.key, ok, retry, err, s.wantOK, s.wantRetry)
		}
	}
}

func TestMemoryLimiterForgetsIdleKeys(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l, _ := NewMemoryLimiter(Rate{PerSecond: 1, Burst: 10})
	l.now = clock.now
	for i := range 1000 {
		l.Allow(context.Background(), "client-"+strings.Repeat("x", i%50)+string(rune('a'+i%26)))
	}
	clock.advance(sweepEvery + 10*time.Second) // every bucket has refilled
	l.Allow(context.Background(), "new")
	if n := len(l.buckets); n != 1 {
		t.Errorf("%d buckets after the sweep, want only the new one", n)
	}
}

func TestRedisLimiterFallsBackWhenRedisIsDown(t *testing.T) {
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer client.Close()

	l, err := NewRedisLimiter(client, Rate{PerSecond: 0.1, Burst: 2})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	l.log = slog.New(slog.NewTextHandler(&logs, nil))

	var got []bool
	for range 4 {
		ok, _, err := l.Allow(context.Background(), "principal:ci")
		if err != nil {
			t.Fatalf("Allow failed with redis down: %v; want the fallback to decide", err)
		}
		got = append(got, ok)
	}
	// The in-process fallback still enforces the burst of 2.
	if want := []bool{true, true, false, false}; !equal(got, want) {
		t.Errorf("allowed = %v, want %v", got, want)
	}
	if n := strings.Count(logs.String(), "fall back"); n != 1 {
		t.Errorf("logged the fallback %d times, want once:\n%s", n, logs.String())
	}
}

func equal(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
