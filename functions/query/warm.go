package query

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/lake/tenants"
)

// The kept answers (snapcache.go) are computed once per snapshot, and the
// first visit after a commit paid for it: at 10,000 systems the console's
// fleet page waited about a second for GET /v1/systems (a GROUP BY over
// every data file through the latest-wins views; in a fresh process also
// DuckDB reading every file's footer into its metadata cache). The warmer
// computes the next answer when it sees new snapshots, so a browser finds
// it ready:
//
//   - one goroutine, one answer at a time: it polls the snapshots this
//     process has (no I/O: ingest's commits and the lake's Poll move them)
//     and computes the answers whose key changed, the latest snapshots
//     only, so a burst of commits costs one computation, not one each;
//   - a request for the answer being computed waits for it (snapCache's
//     flight) instead of computing it again beside it;
//   - it waits for the snapshots to settle (warmSettle without a commit;
//     at most maxUnsettled under commits that never pause), and after
//     computing for d it rests 3d: a bulk ingest is not slowed by an
//     answer per commit, and the warmer takes at most about a quarter of
//     the machine's time;
//   - it warms the answers that were asked in the last warmFor (by route
//     and tenant: the tenant's scope is read again each time, so a system
//     claimed since changes the key), at most maxWarmTargets of them, most
//     recent first: a console nobody opens costs nothing, and the memory
//     kept is the snapCache's, already bounded;
//   - on a local lake ("start", the default there) it also warms the
//     fleet-wide answer from the start, so the first visit after a restart
//     finds it ready too; on S3 ("asked", the default) it does not: the
//     answer reads every data file, and computing it for nobody would copy
//     the whole lake into the NVMe cache. Once a user asked, the next
//     snapshots' answers fetch only the files new since (the others are in
//     the cache, unless evicted).
//
// The answer is keyed by the snapshots' versions and expiry epoch, and
// computed from exactly those snapshots, so a warmed answer is never served
// for a newer snapshot (a delete, an expiry, an ingest): that request
// computes, or waits for the warmer's computation of, its own.

// Warm modes (Config.WarmAnswers, AKOSHA_WARM_ANSWERS).
const (
	WarmAuto  = ""      // "start" on a local lake, "asked" on S3
	WarmStart = "start" // the asked answers, and the fleet-wide one from the start
	WarmAsked = "asked" // the answers asked in the last warmFor
	WarmOff   = "off"   // none: the first request after a commit computes
)

const (
	// warmEvery is how often, by default, the warmer looks at the snapshots.
	warmEvery = 500 * time.Millisecond
	// warmFor is how long after its last request an answer is kept warm.
	warmFor = time.Hour
	// maxWarmTargets bounds the answers kept warm (routes x tenants).
	maxWarmTargets = 8
	// warmSettle is how long, by default, the snapshots must stay unchanged
	// before the warmer computes: a bulk ingest commits every second or
	// so, and an answer per commit would take the two cores from it. (Not
	// shown by measurement on the loaded machine: writing the 10,000-system
	// lake took 32 s without the warmer and 56 s with one per commit, then
	// 51 s without and 54 s with this rule; the load moved it more.)
	warmSettle = 2 * time.Second
	// maxUnsettled is how long commits that never pause may keep the
	// warmer waiting: then it computes for the latest snapshots anyway.
	maxUnsettled = 30 * time.Second
	// warmRest: after computing for d the warmer rests warmRest x d, so
	// it takes at most a quarter of the machine's time.
	warmRest = 3
)

// warmTarget is an answer kept warm: a route as one tenant sees it.
type warmTarget struct {
	route     string
	tenant    string // "" with fleetWide
	fleetWide bool   // every system: a fleet-wide principal, or no auth
	asked     time.Time
}

func (t *warmTarget) id() string {
	if t.fleetWide {
		return t.route + "|*"
	}
	return t.route + "|" + t.tenant
}

// scope is the target's scope under the tenants' current mapping.
func (t *warmTarget) scope(f *Function) *tenants.Scope {
	if t.fleetWide {
		return tenants.Everything()
	}
	return f.lake.Tenants().Current().ScopeOf(t.tenant, false)
}

// warmMode resolves the configured mode for store.
func warmMode(mode string, store storage.Store) string {
	if mode != WarmAuto {
		return mode
	}
	if _, local := store.(*storage.Local); local {
		return WarmStart
	}
	return WarmAsked
}

// asked notes that the caller of ctx asked for route (without a query).
func (c *snapCache) asked(ctx context.Context, route string) {
	t := &warmTarget{route: route, fleetWide: true, asked: time.Now()}
	if p, ok := auth.FromContext(ctx); ok && !p.IsFleetWide() {
		t.fleetWide, t.tenant = false, p.TenantName()
	}
	c.note(t)
}

func (c *snapCache) note(t *warmTarget) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.targets[t.id()] = t
	if len(c.targets) > maxWarmTargets {
		var oldest *warmTarget
		for _, o := range c.targets {
			if oldest == nil || o.asked.Before(oldest.asked) {
				oldest = o
			}
		}
		delete(c.targets, oldest.id())
	}
}

// warming lists the targets asked in the last warmFor, most recent first,
// and forgets the others.
func (c *snapCache) warming(now time.Time) []warmTarget {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []warmTarget
	for id, t := range c.targets {
		if now.Sub(t.asked) > warmFor {
			delete(c.targets, id)
			continue
		}
		out = append(out, *t)
	}
	slices.SortStableFunc(out, func(a, b warmTarget) int { return b.asked.Compare(a.asked) })
	return out
}

// warm keeps the targets' answers current until ctx ends.
func (c *snapCache) warm(ctx context.Context, every, settle time.Duration, done chan struct{}) {
	defer close(done)
	// The snapshots at the start count as settled: the first answers are
	// computed at once.
	seen, changed := c.f.snapshots().versions(), time.Time{}
	var warmed time.Time
	for {
		rest := every
		if v := c.f.snapshots().versions(); v != seen {
			seen, changed = v, time.Now()
		}
		if time.Since(changed) >= settle || time.Since(warmed) >= maxUnsettled {
			if took := c.warmOnce(ctx); took > 0 {
				warmed, rest = time.Now(), max(every, warmRest*took)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(rest):
		}
	}
}

// warmOnce computes the answers whose key changed since they were kept,
// and reports how long that took.
func (c *snapCache) warmOnce(ctx context.Context) time.Duration {
	var took time.Duration
	for _, t := range c.warming(time.Now()) {
		if ctx.Err() != nil {
			break
		}
		h := c.handlers[t.route]
		if h == nil {
			continue
		}
		sc := t.scope(c.f)
		sctx := WithScope(ctx, sc)
		snaps := c.f.snapshots()
		key, err := c.keyOf(sctx, snaps, "")
		if err != nil {
			if ctx.Err() == nil {
				slog.Warn("warm answer: key", "route", t.route, "err", err)
			}
			continue
		}
		rk := t.route + "|" + sc.Key()
		if c.kept(rk, key) != nil {
			continue
		}
		start := time.Now()
		cctx, cancel := context.WithTimeout(withSnapshots(sctx, snaps), c.f.cfg.SQLTimeout)
		r, _ := http.NewRequestWithContext(cctx, http.MethodGet, "/v1/"+t.route, nil)
		_, rec := c.compute(r, rk, key, "warm", h)
		cancel()
		took += time.Since(start)
		switch {
		case rec != nil && ctx.Err() == nil:
			slog.Warn("warm answer", "route", t.route, "status", rec.status, "answer", rec.body.String())
		case rec == nil:
			slog.Debug("warm answer", "route", t.route, "versions", snaps.versions(), "took", time.Since(start))
		}
	}
	return took
}
