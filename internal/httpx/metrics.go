package httpx

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// UnmatchedEndpoint is the endpoint label of requests no route pattern
// matched (404s and 405s of the ServeMux, or a handler that is not one).
const UnmatchedEndpoint = "unmatched"

// durationBuckets reach past DefBuckets' 10 s because ad hoc SQL over cold
// data legitimately takes tens of seconds, and an alert on slow queries needs
// to see where they land.
var durationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}

// Metrics records the request metrics of the HTTP functions:
//
//	akosha_http_requests_total{function,endpoint,status}
//	akosha_http_request_duration_seconds{function,endpoint}
//	akosha_http_request_bytes_total{function,endpoint}
//
// endpoint is the ServeMux pattern that matched (e.g. "POST /v1/memories"),
// never the raw path, so the number of series stays bounded whatever paths
// clients send. Request bytes are the body bytes the handler read from the
// wire, so a compressed upload counts its compressed size.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	bytes    *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg; a nil reg
// registers nothing. Registering twice with the same registry (ingest and
// query in one `akosha serve` process) shares the first registration's
// collectors, which is what makes their function label meaningful.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "akosha_http_requests_total",
			Help: "HTTP requests answered, by function, route pattern and status code.",
		}, []string{"function", "endpoint", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "akosha_http_request_duration_seconds",
			Help:    "Time from receiving a request's headers to its handler returning, by function and route pattern.",
			Buckets: durationBuckets,
		}, []string{"function", "endpoint"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "akosha_http_request_bytes_total",
			Help: "Request body bytes read from the wire (before decompression), by function and route pattern.",
		}, []string{"function", "endpoint"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if err = Register(reg, &m.requests); err != nil {
		return nil, err
	}
	if err = Register(reg, &m.duration); err != nil {
		return nil, err
	}
	if err = Register(reg, &m.bytes); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the identical collector registered before.
// Register adds *c to reg, or, when a collector of the same name is there
// already, puts that one in *c: two functions in one process (akosha serve)
// then share their series instead of failing to start.
func Register[C prometheus.Collector](reg prometheus.Registerer, c *C) error {
	err := reg.Register(*c)
	if err == nil {
		return nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			*c = existing
			return nil
		}
	}
	return fmt.Errorf("register metrics: %w", err)
}

// Wrap returns next instrumented with the metrics, labelled function.
//
// The endpoint label is the pattern the ServeMux matched, read from
// Request.Pattern after next returns, so wrap either a *http.ServeMux itself
// or a handler registered on one. A middleware between Wrap and the mux that
// copies the request (WithContext, WithTimeout) hides the pattern: put such
// middleware outside Wrap, or inside the routes.
func (m *Metrics) Wrap(function string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// A shallow copy, so the mux sets Pattern where we can read it and the
		// body can be counted without modifying the caller's request.
		r2 := r.WithContext(r.Context())
		var body *countingBody
		if r.Body != nil && r.Body != http.NoBody {
			body = &countingBody{ReadCloser: r.Body}
			r2.Body = body
		}
		rec := &statusRecorder{ResponseWriter: w}

		defer func() {
			// A panicking handler still counts, as the 500 the client sees
			// (net/http recovers the panic and drops the connection).
			p := recover()
			status := rec.status
			if p != nil {
				status = http.StatusInternalServerError
			} else if status == 0 {
				status = http.StatusOK // the handler wrote nothing at all
			}
			endpoint := r2.Pattern
			if endpoint == "" {
				endpoint = UnmatchedEndpoint
			}
			m.requests.WithLabelValues(function, endpoint, strconv.Itoa(status)).Inc()
			m.duration.WithLabelValues(function, endpoint).Observe(time.Since(start).Seconds())
			if body != nil {
				m.bytes.WithLabelValues(function, endpoint).Add(float64(body.n.Load()))
			}
			if p != nil {
				panic(p)
			}
		}()
		next.ServeHTTP(rec, r2)
	})
}

// countingBody counts the bytes read through it. The count is atomic because
// a handler may read its body from another goroutine it waits for.
type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// statusRecorder remembers the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int // 0 until the final (non-1xx) header is written
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Flush keeps streaming answers (NDJSON, MCP's SSE) working through the
// recorder for handlers that test for http.Flusher.
func (s *statusRecorder) Flush() {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	_ = http.NewResponseController(s.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the server's writer for
// deadlines, hijacking and full-duplex.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
