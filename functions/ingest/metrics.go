package ingest

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/akosha/akosha/internal/httpx"
)

// metrics are the ingest function's own series; HTTP request counts and
// latencies come from httpx's middleware.
type metrics struct {
	records     *prometheus.CounterVec   // by table and result: stored, invalid, duplicate, error
	bytes       *prometheus.CounterVec   // request bytes after decompression, by table
	batchSize   *prometheus.HistogramVec // records per group commit, by table
	commitTime  *prometheus.HistogramVec // stage + commit of one group, by table
	commitFails *prometheus.CounterVec   // failed group commits, by table
	conflicts   *prometheus.CounterVec   // versions lost to other writers, by table
	deleted     *prometheus.CounterVec   // records removed by deletes, by table
	// erasureLogFailures counts deletes whose erasure record was not
	// written (the delete stands; its answer carries a warning).
	erasureLogFailures prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "akosha_ingest_records_total", Help: "Records received, by table and result (stored, invalid, duplicate, error).",
		}, []string{"table", "result"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "akosha_ingest_bytes_total", Help: "Request body bytes after decompression, by table.",
		}, []string{"table"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "akosha_ingest_group_records", Help: "Records per group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}, []string{"table"}),
		commitTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "akosha_ingest_commit_duration_seconds", Help: "Time to stage and commit one group.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"table"}),
		commitFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "akosha_ingest_commit_failures_total", Help: "Group commits that failed (nothing acknowledged).",
		}, []string{"table"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "akosha_commit_conflicts_total", Help: "Commit attempts that lost their version to another writer and retried.",
		}, []string{"table"}),
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "akosha_deleted_records_total", Help: "Records removed by deletes (DELETE /v1/..., POST /v1/delete, MCP forget), by table.",
		}, []string{"table"}),
		erasureLogFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "akosha_erasure_log_failures_total", Help: "Deletes that removed records but whose erasure log record was not written (alert on any).",
		}),
	}
	if err := errors.Join(httpx.Register(reg, &m.deleted), httpx.Register(reg, &m.erasureLogFailures), httpx.Register(reg, &m.records), httpx.Register(reg, &m.bytes), httpx.Register(reg, &m.batchSize),
		httpx.Register(reg, &m.commitTime), httpx.Register(reg, &m.commitFails), httpx.Register(reg, &m.conflicts)); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *metrics) observeCommit(table string, records, attempts int, d time.Duration, err error) {
	if attempts > 1 {
		m.conflicts.WithLabelValues(table).Add(float64(attempts - 1))
	}
	if err != nil {
		m.commitFails.WithLabelValues(table).Inc()
		return
	}
	m.batchSize.WithLabelValues(table).Observe(float64(records))
	m.commitTime.WithLabelValues(table).Observe(d.Seconds())
}
