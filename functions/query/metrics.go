package query

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/akosha/akosha/internal/httpx"
)

type metrics struct {
	resultCache   *prometheus.CounterVec // answers by where they came from: l1, l2, miss
	sqlDuration   prometheus.Histogram   // statements that ran (cache misses)
	filesRead     prometheus.Counter     // data files statements needed after pruning
	objectsServed prometheus.Counter     // objects a tier store served to other query processes
	// tierStoreFallbacks counts tiers searched here because their store
	// failed or timed out (fanout.go).
	tierStoreFallbacks *prometheus.CounterVec
	// confinedFiles counts the data files tenant-confined statements read,
	// by how: whole (every row of the tenant's systems: no row test) or
	// row_test (rows of other tenants too: each row tested and masked).
	confinedFiles *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		resultCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "akosha_query_result_cache_total", Help: "SQL answers by source: l1 (in process), l2 (Redis) or miss (computed).",
		}, []string{"tier"}),
		sqlDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "akosha_query_sql_duration_seconds", Help: "Time to plan, fetch and run one SQL statement (cache misses).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		filesRead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "akosha_query_files_total", Help: "Data files SQL statements needed after pruning.",
		}),
		objectsServed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "akosha_tier_store_objects_served_total", Help: "Lake objects this tier store served to other query processes.",
		}),
		tierStoreFallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "akosha_query_tier_store_fallbacks_total", Help: "Searches of a tier done here because its tier store failed or timed out.",
		}, []string{"tier"}),
		confinedFiles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "akosha_query_confined_files_total",
			Help: "Data files read by tenant-confined SQL: whole (only the tenant's systems) or row_test (each row tested).",
		}, []string{"read"}),
	}
	if err := errors.Join(httpx.Register(reg, &m.resultCache), httpx.Register(reg, &m.sqlDuration), httpx.Register(reg, &m.filesRead), httpx.Register(reg, &m.objectsServed),
		httpx.Register(reg, &m.tierStoreFallbacks), httpx.Register(reg, &m.confinedFiles)); err != nil {
		return nil, err
	}
	return m, nil
}
