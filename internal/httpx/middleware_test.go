package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/akosha/akosha/internal/httpx"
)

func TestWithTimeout(t *testing.T) {
	tests := []struct {
		name         string
		d            time.Duration
		wantDeadline bool
	}{
		{"a positive duration sets a deadline", time.Minute, true},
		{"zero leaves the request without one", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var deadline time.Time
			var ok bool
			h := httpx.WithTimeout(tt.d)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				deadline, ok = r.Context().Deadline()
			}))
			before := time.Now()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))

			if ok != tt.wantDeadline {
				t.Fatalf("has deadline = %v, want %v", ok, tt.wantDeadline)
			}
			if ok && (deadline.Before(before.Add(tt.d)) || deadline.After(time.Now().Add(tt.d))) {
				t.Errorf("deadline %v is not %v after the request arrived", deadline, tt.d)
			}
		})
	}
}

func TestWithTimeoutAnswers503ThroughWriteErr(t *testing.T) {
	h := httpx.WithTimeout(time.Millisecond)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // a slow query that honours its context
		httpx.WriteErr(w, r.Context().Err())
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/sql", nil))

	if rec.Code != http.StatusServiceUnavailable || decodeError(t, rec).Error.Code != "timeout" {
		t.Errorf("got %d %s, want 503 timeout", rec.Code, rec.Body.String())
	}
}

// newMux is a small function: two routes, one with a wildcard.
func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/memories/{system_id}/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "missing" {
			httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, "no such memory")
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
	})
	mux.HandleFunc("POST /v1/memories", func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		if err := httpx.DecodeJSON(w, r, 0, &v); err != nil {
			httpx.WriteErr(w, err)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	return mux
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := httpx.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	h := m.Wrap("query", newMux())

	requests := []struct{ method, path, body string }{
		{"GET", "/v1/memories/sb-1/a", ""},
		{"GET", "/v1/memories/sb-2/b", ""},
		{"GET", "/v1/memories/sb-1/missing", ""},
		{"POST", "/v1/memories", `{"records":[]}`},
		{"GET", "/no/such/path/1", ""},
		{"GET", "/no/such/path/2", ""},
	}
	for _, q := range requests {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(q.method, q.path, strings.NewReader(q.body)))
	}

	// Many paths, few series: the label is the pattern that matched.
	counts := []struct {
		endpoint, status string
		want             float64
	}{
		{"GET /v1/memories/{system_id}/{id}", "200", 2},
		{"GET /v1/memories/{system_id}/{id}", "404", 1},
		{"POST /v1/memories", "202", 1},
		{httpx.UnmatchedEndpoint, "404", 2},
	}
	for _, c := range counts {
		got := sample(t, reg, "akosha_http_requests_total", "function", "query", "endpoint", c.endpoint, "status", c.status)
		if got != c.want {
			t.Errorf("requests{%s,%s} = %v, want %v", c.endpoint, c.status, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(reg, "akosha_http_requests_total"); n != len(counts) {
		t.Errorf("%d request series, want %d", n, len(counts))
	}
	if got := sample(t, reg, "akosha_http_request_bytes_total", "function", "query", "endpoint", "POST /v1/memories"); got != float64(len(`{"records":[]}`)) {
		t.Errorf("request bytes = %v, want %d", got, len(`{"records":[]}`))
	}
	if n := testutil.CollectAndCount(reg, "akosha_http_request_duration_seconds"); n != 3 {
		t.Errorf("%d duration series, want 3", n)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("metrics lint: %v %v", problems, err)
	}
}

func TestMetricsCountsAPanicAsA500(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := httpx.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	h := m.Wrap("ingest", newMux())
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want the handler's panic to propagate", p)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/panic", nil))
	}()

	if got := sample(t, reg, "akosha_http_requests_total", "function", "ingest", "endpoint", "GET /panic", "status", "500"); got != 1 {
		t.Errorf("requests{GET /panic,500} = %v, want 1", got)
	}
}

func TestNewMetricsTwiceSharesTheCollectors(t *testing.T) {
	// `akosha serve` runs ingest and query in one process and one registry.
	reg := prometheus.NewRegistry()
	ingest, err := httpx.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	query, err := httpx.NewMetrics(reg)
	if err != nil {
		t.Fatalf("second NewMetrics on the same registry: %v", err)
	}
	ingest.Wrap("ingest", newMux()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
	query.Wrap("query", newMux()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))

	if n := testutil.CollectAndCount(reg, "akosha_http_requests_total"); n != 2 {
		t.Errorf("%d series, want one per function", n)
	}
}

func TestNewMetricsRefusesAConflictingRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{
		Name: "akosha_http_requests_total", Help: "something else with the same name",
	}))
	if _, err := httpx.NewMetrics(reg); err == nil {
		t.Error("NewMetrics succeeded over a conflicting metric, want an error")
	}
}

func TestMetricsKeepsFlushing(t *testing.T) {
	m, _ := httpx.NewMetrics(nil)
	h := m.Wrap("query", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Flusher); !ok {
			t.Error("the wrapped ResponseWriter is not an http.Flusher")
		}
		// ResponseController reaches the server's writer through Unwrap.
		if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline through the wrapper: %v", err)
		}
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// sample returns the value of the counter series name{labels...} in reg, or
// 0 when there is no such series.
func sample(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != len(want) {
				continue
			}
			for _, l := range m.GetLabel() {
				if want[l.GetName()] != l.GetValue() {
					continue series
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
