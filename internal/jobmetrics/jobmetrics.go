// Package jobmetrics gives the lake's jobs their Prometheus metrics. A
// CronJob's pod lives for one run, too short to be scraped, so a run pushes
// its metrics to a Pushgateway at the end (AKOSHA_PUSHGATEWAY_URL), grouped
// by job name: the gateway keeps the last run's values, which is what the
// alerts ask about (when did compaction last succeed, did the last age run
// leave moves failed). Without a gateway the metrics are only logged.
package jobmetrics

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"

	"github.com/akosha/akosha/internal/config"
)

// KeyPushgateway is where runs push their metrics.
var KeyPushgateway = config.Register(config.Key{Name: "AKOSHA_PUSHGATEWAY_URL",
	Help: "Prometheus Pushgateway the jobs push their metrics to at the end of a run; empty: none"})

// Run is one job run's metrics.
type Run struct {
	job   string
	start time.Time
	reg   *prometheus.Registry

	lastRun, lastSuccess, duration, exitCode prometheus.Gauge
	items                                    *prometheus.GaugeVec
	bytes                                    *prometheus.GaugeVec

	// What Items and Bytes recorded, for the run's record (record.go).
	itemValues        map[string]int
	bytesIn, bytesOut int64
}

// Start begins the metrics of one run of job (compact, age, index, vacuum,
// import).
func Start(job string) *Run {
	r := &Run{job: job, start: time.Now(), reg: prometheus.NewRegistry(), itemValues: map[string]int{}}
	labels := prometheus.Labels{"job_name": job}
	r.lastRun = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "akosha", Subsystem: "job",
		Name: "last_run_timestamp_seconds", Help: "When the job's last run ended.", ConstLabels: labels})
	r.lastSuccess = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "akosha", Subsystem: "job",
		Name: "last_success_timestamp_seconds", Help: "When the job last ended with exit code 0.", ConstLabels: labels})
	r.duration = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "akosha", Subsystem: "job",
		Name: "duration_seconds", Help: "How long the job's last run took.", ConstLabels: labels})
	r.exitCode = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "akosha", Subsystem: "job",
		Name: "exit_code", Help: "The last run's exit code (0 done, 1 failed, 3 partial, 4 lease held; README 'Jobs').", ConstLabels: labels})
	r.items = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "akosha", Subsystem: "job",
		Name: "items", Help: "What the last run did, by result (e.g. compacted, skipped, failed, moved, deleted, built).",
		ConstLabels: labels}, []string{"result"})
	r.bytes = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "akosha", Subsystem: "job",
		Name: "bytes", Help: "Bytes the last run read (in) and wrote (out).", ConstLabels: labels}, []string{"direction"})
	r.reg.MustRegister(r.lastRun, r.lastSuccess, r.duration, r.exitCode, r.items, r.bytes)
	return r
}

// Items records how many items ended with result.
func (r *Run) Items(result string, n int) {
	r.items.WithLabelValues(result).Set(float64(n))
	r.itemValues[result] = n
}

// Bytes records the bytes read and written.
func (r *Run) Bytes(in, out int64) {
	r.bytes.WithLabelValues("in").Set(float64(in))
	r.bytes.WithLabelValues("out").Set(float64(out))
	r.bytesIn, r.bytesOut = in, out
}

// Registry holds the run's metrics (for tests).
func (r *Run) Registry() *prometheus.Registry { return r.reg }

// Finish records the run's end with its exit code and pushes the metrics to
// gateway ("" : AKOSHA_PUSHGATEWAY_URL; none configured: nothing is sent).
// A failed push is logged, never the job's failure.
func (r *Run) Finish(ctx context.Context, exitCode int, gateway string) error {
	now := time.Now()
	r.lastRun.Set(float64(now.Unix()))
	r.duration.Set(now.Sub(r.start).Seconds())
	r.exitCode.Set(float64(exitCode))
	if exitCode == 0 {
		r.lastSuccess.Set(float64(now.Unix()))
	}
	if gateway == "" {
		gateway = KeyPushgateway.String()
	}
	if gateway == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p := push.New(gateway, "akosha_"+r.job).Gatherer(r.reg).Client(ctxClient{ctx})
	// Add, not Push: a run that failed before recording its items must not
	// wipe last_success_timestamp_seconds of an earlier successful run.
	var err error
	if exitCode == 0 {
		err = p.Push()
	} else {
		p = push.New(gateway, "akosha_"+r.job).Client(ctxClient{ctx}).
			Collector(r.lastRun).Collector(r.duration).Collector(r.exitCode).Collector(r.items).Collector(r.bytes)
		err = p.Add()
	}
	if err != nil {
		slog.Warn("push job metrics", "job", r.job, "gateway", gateway, "err", err)
		return fmt.Errorf("push metrics of job %s: %w", r.job, err)
	}
	return nil
}

// ctxClient makes push's requests carry the run's deadline.
type ctxClient struct{ ctx context.Context }

func (c ctxClient) Do(req *http.Request) (*http.Response, error) {
	return http.DefaultClient.Do(req.WithContext(c.ctx))
}
