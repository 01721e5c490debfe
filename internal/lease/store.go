package lease

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/akosha/akosha/lake/storage"
)

// Store takes leases as objects on the lake's store, for deployments without
// Redis. The store offers put-if-absent but no compare-and-delete, so a lease
// is a sequence of generations rather than one object that is deleted and
// re-created (two takers deleting "the expired object" could delete each
// other's fresh one, and both would hold the lease):
//
//	_leases/<name>/<generation %020d>.json  {holder, token, acquired, expires}
//
// The newest generation decides. Acquire reads it; if it is absent, released
// or expired (expires+MaxSkew before now), Acquire writes generation+1 with
// put-if-absent: of any number of racing takers exactly one wins, the others
// get ErrHeld. The holder renews by rewriting its own generation with a later
// expiry, and checks after each renewal that no newer generation exists; if
// one does, the lease was taken over (it had expired) and Lost is closed.
// Release marks the generation released. Older generations are deleted by
// whoever wins the next one.
//
// Clock assumption: expiry is the holder's wall clock plus ttl, compared with
// the taker's wall clock; the two may differ by at most MaxSkew. A holder
// that cannot renew for a whole ttl (by its own clock, counted from the start
// of its last successful renewal) stops and reports Lost, so by the time a
// taker sees the lease expired the holder has given up.
type Store struct {
	store  storage.Store
	prefix string
	opts   Options
}

// NewStore takes leases under _leases/ on store.
func NewStore(store storage.Store, opts Options) *Store {
	return &Store{store: store, prefix: "_leases/", opts: opts}
}

func (s *Store) dir(name string) string { return s.prefix + name + "/" }

func (s *Store) genKey(name string, gen int64) string {
	return fmt.Sprintf("%s%020d.json", s.dir(name), gen)
}

// latest returns the newest generation, -1 when there is none, and all
// generation numbers found.
func (s *Store) generations(ctx context.Context, name string) ([]int64, error) {
	objs, err := s.store.List(ctx, s.dir(name))
	if err != nil {
		return nil, err
	}
	var gens []int64
	for _, o := range objs {
		base := strings.TrimPrefix(o.Key, s.dir(name))
		num, ok := strings.CutSuffix(base, ".json")
		if !ok || len(num) != 20 {
			continue
		}
		g, err := strconv.ParseInt(num, 10, 64)
		if err == nil && g >= 0 {
			gens = append(gens, g)
		}
	}
	sort.Slice(gens, func(i, j int) bool { return gens[i] < gens[j] })
	return gens, nil
}

func (s *Store) read(ctx context.Context, name string, gen int64) (record, error) {
	b, err := storage.ReadAll(ctx, s.store, s.genKey(name, gen))
	if err != nil {
		return record{}, err
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		// A torn or foreign object: treat as expired so the lease is not
		// wedged forever.
		return record{Holder: "unreadable lease object"}, nil
	}
	return r, nil
}

func validName(name string) error {
	if name == "" || strings.ContainsAny(name, "/\\") || name == "." || name == ".." {
		return fmt.Errorf("lease name %q: must be a non-empty single path element", name)
	}
	return nil
}

// Acquire takes the lease name for ttl, renewing it until Release.
func (s *Store) Acquire(ctx context.Context, name string, ttl time.Duration) (Lease, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	if ttl < 3*time.Millisecond {
		return nil, fmt.Errorf("lease %q: ttl %v too short", name, ttl)
	}
	for attempt := 0; ; attempt++ {
		gens, err := s.generations(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("lease %q: %w", name, err)
		}
		next := int64(0)
		if len(gens) > 0 {
			g := gens[len(gens)-1]
			cur, err := s.read(ctx, name, g)
			if errors.Is(err, storage.ErrNotExist) && attempt < 5 {
				continue // deleted under us by a newer winner: look again
			}
			if err != nil {
				return nil, fmt.Errorf("lease %q: %w", name, err)
			}
			if !cur.Released && !s.opts.now().After(cur.Expires.Add(s.opts.maxSkew())) {
				return nil, &HeldError{Name: name, Holder: cur.Holder, Expires: cur.Expires}
			}
			next = g + 1
		}
		now := s.opts.now().UTC()
		rec := record{Holder: s.opts.holder(), Token: newToken(), Acquired: now, Expires: now.Add(ttl)}
		b, _ := json.Marshal(rec)
		err = s.store.PutIfAbsent(ctx, s.genKey(name, next), bytes.NewReader(b), int64(len(b)))
		if errors.Is(err, storage.ErrExists) {
			// Another taker won this generation.
			other, rerr := s.read(ctx, name, next)
			if rerr != nil {
				other = record{Holder: "unknown"}
			}
			return nil, &HeldError{Name: name, Holder: other.Holder, Expires: other.Expires}
		}
		if err != nil {
			return nil, fmt.Errorf("lease %q: %w", name, err)
		}
		// Ours. Older generations are history now.
		for _, g := range gens {
			if g < next {
				_ = s.store.Delete(ctx, s.genKey(name, g))
			}
		}
		l := &storeLease{s: s, name: name, gen: next, rec: rec}
		l.ren = startRenewer(ttl, s.opts.now, func(ctx context.Context) (bool, error) {
			return l.renew(ctx, ttl)
		})
		return l, nil
	}
}

type storeLease struct {
	s    *Store
	name string
	gen  int64
	rec  record // touched by the renewal goroutine only, then by Release after halt
	ren  *renewer
	once sync.Once
	err  error
}

func (l *storeLease) Lost() <-chan struct{} { return l.ren.lost }

// superseded reports whether a newer generation exists.
func (l *storeLease) superseded(ctx context.Context) (bool, error) {
	_, err := l.s.store.Head(ctx, l.s.genKey(l.name, l.gen+1))
	if err == nil {
		return true, nil
	}
	if errors.Is(err, storage.ErrNotExist) {
		return false, nil
	}
	return false, err
}

func (l *storeLease) write(ctx context.Context) error {
	b, _ := json.Marshal(l.rec)
	return l.s.store.Put(ctx, l.s.genKey(l.name, l.gen), bytes.NewReader(b), int64(len(b)))
}

func (l *storeLease) renew(ctx context.Context, ttl time.Duration) (bool, error) {
	if taken, err := l.superseded(ctx); taken || err != nil {
		return taken, err
	}
	l.rec.Expires = l.s.opts.now().UTC().Add(ttl)
	if err := l.write(ctx); err != nil {
		return false, err
	}
	// A taker may have read the old expiry just before this write landed.
	return l.superseded(ctx)
}

func (l *storeLease) Release(ctx context.Context) error {
	l.once.Do(func() {
		if l.ren.halt() {
			return
		}
		if taken, err := l.superseded(ctx); taken || err != nil {
			l.err = err
			return
		}
		l.rec.Released = true
		if err := l.write(ctx); err != nil {
			l.err = fmt.Errorf("release lease %q: %w", l.name, err)
		}
	})
	return l.err
}
