package lake

import (
	"context"
	"math/rand/v2"
	"time"
)

// Retry says how a job tries again a piece of work (a compaction group, a
// tier move) that lost a race with another commit: it waits, re-plans the
// piece against the newest snapshot and runs it again, at most Attempts
// times in all. Without it a job beside a busy writer can lose every race
// and never make progress: compaction commits every few hundred
// milliseconds under steady ingest, and a tier move that is given up after
// one loss waits for the next run, which loses again.
type Retry struct {
	Attempts int           // tries in all, the first included (at least 1)
	Base     time.Duration // the first wait's upper bound
	Max      time.Duration // no wait's upper bound exceeds this
}

// DefaultRetry gives a piece of work ten tries over a few seconds: enough
// that a move beside compactions committing every half second lands, short
// enough that a job never sleeps long on one partition.
var DefaultRetry = Retry{Attempts: 10, Base: 50 * time.Millisecond, Max: time.Second}

// WithDefaults fills zero fields from DefaultRetry.
func (r Retry) WithDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = DefaultRetry.Attempts
	}
	if r.Base <= 0 {
		r.Base = DefaultRetry.Base
	}
	if r.Max <= 0 {
		r.Max = DefaultRetry.Max
	}
	return r
}

// Do calls try with attempt 1, 2, ... until it returns an error, reports
// no lost race, or has had Attempts tries, waiting (Wait) between tries.
// It returns try's error, or ctx's when a wait is cut short; a race lost
// on the last try is no error (try's caller knows what it lost).
func (r Retry) Do(ctx context.Context, try func(attempt int) (lost bool, err error)) error {
	r = r.WithDefaults()
	for attempt := 1; ; attempt++ {
		lost, err := try(attempt)
		if err != nil || !lost || attempt >= r.Attempts {
			return err
		}
		if err := r.Wait(ctx, attempt); err != nil {
			return err
		}
	}
}

// Wait sleeps before try number attempt+1 (attempt counts the tries made,
// from 1): a random time up to Base doubled per try and capped at Max.
// Full jitter spreads out the jobs that lost the same race, so they do not
// collide again in lockstep. It returns early with ctx's error.
func (r Retry) Wait(ctx context.Context, attempt int) error {
	r = r.WithDefaults()
	limit := r.Max
	if attempt < 30 {
		limit = min(r.Max, r.Base<<max(attempt-1, 0))
	}
	timer := time.NewTimer(rand.N(limit) + 1)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
