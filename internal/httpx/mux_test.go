package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/akosha/akosha/internal/httpx"
)

func TestMuxRoutesAndRemembersItsPatterns(t *testing.T) {
	var m httpx.Mux
	m.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	m.Handle("/v1/memories", http.NotFoundHandler())
	if got, want := m.Patterns(), []string{"GET /status", "/v1/memories"}; !slices.Equal(got, want) {
		t.Errorf("Patterns() = %q, want %q", got, want)
	}
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/status", nil))
	if rec.Code != http.StatusTeapot {
		t.Errorf("GET /status = %d: the embedded ServeMux does not route", rec.Code)
	}
}
