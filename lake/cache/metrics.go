package cache

import "github.com/prometheus/client_golang/prometheus"

// fetchBuckets span a small index file from a nearby S3 (milliseconds) to a
// large Parquet file over a slow link (minutes).
var fetchBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}

// metrics are the cache's Prometheus collectors:
//
//	akosha_cache_hits_total            requests served from a cached file
//	akosha_cache_misses_total          requests that waited for a download
//	akosha_cache_bytes                 bytes held
//	akosha_cache_budget_bytes          the byte budget
//	akosha_cache_evictions_total       files deleted to stay within the budget
//	akosha_cache_fetched_bytes_total   bytes read from the object store
//	akosha_cache_fetch_seconds         duration of each download, failed ones included
type metrics struct {
	hits         prometheus.Counter
	misses       prometheus.Counter
	bytes        prometheus.Gauge
	budget       prometheus.Gauge
	evictions    prometheus.Counter
	fetched      prometheus.Counter
	fetchSeconds prometheus.Histogram
}

func newMetrics(budget int64) *metrics {
	m := &metrics{
		hits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "akosha_cache_hits_total",
			Help: "Object requests answered by a file already in the local cache.",
		}),
		misses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "akosha_cache_misses_total",
			Help: "Object requests that waited for a download (their own or one shared with other requests).",
		}),
		bytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "akosha_cache_bytes",
			Help: "Bytes of objects held in the local cache (above the budget only while pinned files need it).",
		}),
		budget: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "akosha_cache_budget_bytes",
			Help: "The local cache's byte budget.",
		}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "akosha_cache_evictions_total",
			Help: "Files deleted from the local cache to stay within its budget.",
		}),
		fetched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "akosha_cache_fetched_bytes_total",
			Help: "Bytes downloaded from the object store into the local cache.",
		}),
		fetchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "akosha_cache_fetch_seconds",
			Help:    "Time to download one object into the local cache, failed and cancelled downloads included.",
			Buckets: fetchBuckets,
		}),
	}
	m.budget.Set(float64(budget))
	return m
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.hits, m.misses, m.bytes, m.budget, m.evictions, m.fetched, m.fetchSeconds}
}

// register registers every collector or, on error, none.
func (m *metrics) register(reg prometheus.Registerer) error {
	cs := m.collectors()
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return err
		}
	}
	return nil
}

func (m *metrics) unregister(reg prometheus.Registerer) {
	for _, c := range m.collectors() {
		reg.Unregister(c)
	}
}
