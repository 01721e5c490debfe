package jobmetrics

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

type pushed struct {
	method, path string
	body         []byte
}

func gateway(t *testing.T) (*httptest.Server, func() []pushed) {
	var mu sync.Mutex
	var got []pushed
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, pushed{r.Method, r.URL.Path, b})
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []pushed { mu.Lock(); defer mu.Unlock(); return append([]pushed(nil), got...) }
}

func TestSuccessfulRunReplacesTheGroup(t *testing.T) {
	srv, got := gateway(t)
	r := Start("compact")
	r.Items("compacted", 3)
	r.Items("failed", 0)
	r.Bytes(100, 40)
	if err := r.Finish(context.Background(), 0, srv.URL); err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(r.items.WithLabelValues("compacted")); v != 3 {
		t.Errorf("items compacted = %v", v)
	}
	if testutil.ToFloat64(r.lastSuccess) == 0 || testutil.ToFloat64(r.exitCode) != 0 {
		t.Error("success not recorded")
	}
	p := got()
	if len(p) != 1 || p[0].method != http.MethodPut || p[0].path != "/metrics/job/akosha_compact" {
		t.Fatalf("pushes: %+v", p)
	}
	for _, name := range []string{"akosha_job_last_success_timestamp_seconds", "akosha_job_items", "akosha_job_bytes", "akosha_job_duration_seconds"} {
		if !bytes.Contains(p[0].body, []byte(name)) {
			t.Errorf("push lacks %s", name)
		}
	}
}

// A failed run must not overwrite the time of the last success, which the
// alert "job has not succeeded for a day" reads.
func TestFailedRunKeepsTheLastSuccess(t *testing.T) {
	srv, got := gateway(t)
	r := Start("age")
	r.Items("failed", 2)
	if err := r.Finish(context.Background(), 3, srv.URL); err != nil {
		t.Fatal(err)
	}
	p := got()
	if len(p) != 1 || p[0].method != http.MethodPost || p[0].path != "/metrics/job/akosha_age" {
		t.Fatalf("pushes: %+v", p)
	}
	if bytes.Contains(p[0].body, []byte("last_success")) {
		t.Error("a failed run pushed last_success_timestamp_seconds")
	}
	if !bytes.Contains(p[0].body, []byte("akosha_job_exit_code")) {
		t.Error("a failed run did not push its exit code")
	}
}

func TestNoGatewayNoPush(t *testing.T) {
	t.Setenv("AKOSHA_PUSHGATEWAY_URL", "")
	r := Start("vacuum")
	if err := r.Finish(context.Background(), 0, ""); err != nil {
		t.Fatal(err)
	}
}

func TestUnreachableGatewayIsAnErrorNotAPanic(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	defer srv.Close()
	if err := Start("index").Finish(context.Background(), 0, srv.URL); err == nil {
		t.Fatal("a refused push reported no error")
	}
}
