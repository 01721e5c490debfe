package httpx

import (
	"net/http"
	"slices"
)

// Mux is an http.ServeMux that remembers the patterns registered on it, so
// that what a function routes can be listed and held to the API contract
// (api/openapi.yaml) by tests, rather than by a list kept beside it. Its
// zero value is ready to use.
type Mux struct {
	http.ServeMux
	patterns []string
}

// Handle registers h for pattern, as http.ServeMux.Handle does.
func (m *Mux) Handle(pattern string, h http.Handler) {
	m.ServeMux.Handle(pattern, h)
	m.patterns = append(m.patterns, pattern)
}

// HandleFunc registers h for pattern, as http.ServeMux.HandleFunc does.
func (m *Mux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

// Patterns are the registered patterns, in the order of registration.
func (m *Mux) Patterns() []string { return slices.Clone(m.patterns) }
