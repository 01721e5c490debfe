package lease

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake/storage"
)

// backend is one lease backend under test, with hooks to simulate a crash
// (renewal stops without release) and a takeover behind the holder's back.
type backend struct {
	name  string
	new   func(holder string) Acquirer
	steal func(t *testing.T, leaseName string)
}

func backends(t *testing.T) []backend {
	t.Helper()
	url := testenv.RedisURL(t)
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(o)
	t.Cleanup(func() { client.Close() })
	prefix := "akosha:test:" + testenv.RandomID() + ":"
	newRedis := func(holder string) Acquirer {
		r := NewRedis(client, Options{Holder: holder})
		r.prefix = prefix
		return r
	}
	s3 := testenv.S3(t)
	local := testenv.Local(t)
	newStore := func(st storage.Store) func(string) Acquirer {
		return func(holder string) Acquirer { return NewStore(st, Options{Holder: holder, MaxSkew: -1}) }
	}
	stealStore := func(st storage.Store) func(*testing.T, string) {
		return func(t *testing.T, name string) {
			s := NewStore(st, Options{})
			gens, err := s.generations(context.Background(), name)
			if err != nil || len(gens) == 0 {
				t.Fatalf("generations: %v %v", gens, err)
			}
			b := []byte(`{"holder":"thief","token":"x","expires":"2999-01-01T00:00:00Z"}`)
			if err := st.PutIfAbsent(context.Background(), s.genKey(name, gens[len(gens)-1]+1), bytesReader(b), int64(len(b))); err != nil {
				t.Fatal(err)
			}
		}
	}
	return []backend{
		{name: "redis", new: newRedis, steal: func(t *testing.T, name string) {
			if err := client.Set(context.Background(), prefix+name, `{"holder":"thief"}`, time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "s3", new: newStore(s3), steal: stealStore(s3)},
		{name: "local", new: newStore(local), steal: stealStore(local)},
	}
}

func eachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

func leaseName() string { return "job-" + testenv.RandomID() }

func TestSecondAcquirerGetsErrHeld(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		name := leaseName()
		l, err := b.new("first").Acquire(ctx, name, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_, err = b.new("second").Acquire(ctx, name, 5*time.Second)
		var held *HeldError
		if !errors.Is(err, ErrHeld) || !errors.As(err, &held) {
			t.Fatalf("second acquire: %v, want ErrHeld", err)
		}
		if held.Holder != "first" || held.Expires.IsZero() {
			t.Fatalf("held error %+v: want holder first and an expiry", held)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-l.Lost():
		default:
			t.Fatal("Lost not closed after Release")
		}
		// Release frees it.
		l2, err := b.new("second").Acquire(ctx, name, 5*time.Second)
		if err != nil {
			t.Fatalf("acquire after release: %v", err)
		}
		l2.Release(ctx)
		if err := l.Release(ctx); err != nil { // idempotent
			t.Fatal(err)
		}
	})
}

func TestConcurrentAcquirersExactlyOneWins(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		name := leaseName()
		const n = 8
		var wg sync.WaitGroup
		leases := make([]Lease, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				leases[i], errs[i] = b.new(fmt.Sprint("p", i)).Acquire(ctx, name, 5*time.Second)
			}()
		}
		wg.Wait()
		won := 0
		for i := range n {
			switch {
			case errs[i] == nil:
				won++
				defer leases[i].Release(ctx)
			case !errors.Is(errs[i], ErrHeld):
				t.Errorf("acquirer %d: %v", i, errs[i])
			}
		}
		if won != 1 {
			t.Fatalf("%d acquirers won, want 1", won)
		}
	})
}

func TestRenewalKeepsIt(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		name := leaseName()
		l, err := b.new("holder").Acquire(ctx, name, 600*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release(ctx)
		time.Sleep(2 * time.Second) // > 3 ttls
		if _, err := b.new("other").Acquire(ctx, name, time.Second); !errors.Is(err, ErrHeld) {
			t.Fatalf("acquire of a renewed lease: %v, want ErrHeld", err)
		}
		select {
		case <-l.Lost():
			t.Fatal("renewed lease reported lost")
		default:
		}
	})
}

// halt stops renewal as a crashed holder would.
func halt(l Lease) {
	switch l := l.(type) {
	case *redisLease:
		l.ren.halt()
	case *storeLease:
		l.ren.halt()
	}
}

func TestExpiryAllowsTakeover(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		name := leaseName()
		l, err := b.new("crashed").Acquire(ctx, name, 400*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		halt(l)
		if _, err := b.new("early").Acquire(ctx, name, time.Second); !errors.Is(err, ErrHeld) {
			t.Fatalf("acquire before expiry: %v, want ErrHeld", err)
		}
		time.Sleep(700 * time.Millisecond)
		// Several takers race for the expired lease: one wins.
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l2, err := b.new(fmt.Sprint("taker", i)).Acquire(ctx, name, 5*time.Second)
				if err == nil {
					mu.Lock()
					won++
					mu.Unlock()
					t.Cleanup(func() { l2.Release(context.Background()) })
				} else if !errors.Is(err, ErrHeld) {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if won != 1 {
			t.Fatalf("%d takers won the expired lease, want 1", won)
		}
	})
}

func TestTakeoverIsReportedAsLost(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		name := leaseName()
		l, err := b.new("holder").Acquire(ctx, name, 300*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		b.steal(t, name)
		select {
		case <-l.Lost():
		case <-time.After(2 * time.Second):
			t.Fatal("Lost not closed after the lease was taken")
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		// Release of a lost lease must not free the thief's.
		if _, err := b.new("third").Acquire(ctx, name, time.Second); !errors.Is(err, ErrHeld) {
			t.Fatalf("after a lost lease's release: %v, want ErrHeld (the thief holds it)", err)
		}
	})
}

func TestStoreSkewDelaysTakeover(t *testing.T) {
	st := testenv.Local(t)
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }
	l, err := NewStore(st, Options{Holder: "a", Now: clock, MaxSkew: time.Minute}).Acquire(ctx, "j", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	halt(l)
	now = now.Add(30 * time.Second) // expired by a's clock, within the skew
	if _, err := NewStore(st, Options{Holder: "b", Now: clock, MaxSkew: time.Minute}).Acquire(ctx, "j", time.Second); !errors.Is(err, ErrHeld) {
		t.Fatalf("takeover within the skew allowance: %v, want ErrHeld", err)
	}
	now = now.Add(time.Minute)
	l2, err := NewStore(st, Options{Holder: "b", Now: clock, MaxSkew: time.Minute}).Acquire(ctx, "j", time.Second)
	if err != nil {
		t.Fatalf("takeover past the skew allowance: %v", err)
	}
	halt(l2)
	if gens, _ := NewStore(st, Options{}).generations(ctx, "j"); len(gens) != 1 || gens[0] != 1 {
		t.Fatalf("generations after takeover: %v, want [1]", gens)
	}
}
