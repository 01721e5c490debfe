package query

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/akosha/akosha/schemas"
)

// TierStoreFallbacks reads akosha_query_tier_store_fallbacks_total{tier}.
func TierStoreFallbacks(f *Function, tier string) float64 {
	return testutil.ToFloat64(f.metrics.tierStoreFallbacks.WithLabelValues(tier))
}

// SetTierStoreTimeout changes the per-store timeout of a fanning-out
// function (tests of slow stores) and returns the previous one.
func SetTierStoreTimeout(f *Function, d time.Duration) time.Duration {
	return time.Duration(f.fanout.timeout.Swap(int64(d)))
}

// MovedBetween reports whether a memories commit in (lo, hi] moved files
// between tiers, as fan-out checks it.
func MovedBetween(ctx context.Context, f *Function, lo, hi int64) (bool, error) {
	return f.movedBetween(ctx, lo, hi, map[string]bool{schemas.TierHot: true, schemas.TierWarm: true, schemas.TierCold: true})
}
