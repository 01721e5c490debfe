// Package api holds Akosha's HTTP contract, openapi.yaml (OpenAPI 3.1),
// embedded in the binary so that every process serves the document it
// implements at GET /openapi.json, and a clone of the repository carries it.
//
// The YAML is the one source; it is turned into JSON once, on first use,
// rather than kept twice. The tests in cmd/akosha hold the document to the
// handlers (see openapi.yaml's header).
package api

import (
	_ "embed"
	"fmt"
	"net/http"
	"sync"

	"sigs.k8s.io/yaml"

	"github.com/akosha/akosha/internal/httpx"
)

// Path is where every process serves the document, without auth.
const Path = "/openapi.json"

//go:embed openapi.yaml
var document []byte

// YAML is the document as written.
func YAML() []byte { return document }

// JSON is the document as JSON, the form OpenAPI tools fetch.
var JSON = sync.OnceValues(func() ([]byte, error) {
	b, err := yaml.YAMLToJSON(document)
	if err != nil {
		return nil, fmt.Errorf("api: openapi.yaml is not valid YAML: %w", err)
	}
	return b, nil
})

// Handler serves the document as JSON. A document that does not convert is
// a build defect the tests catch; a process that has one answers 500 rather
// than refusing to start, since it still serves everything else.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := JSON()
		if err != nil {
			httpx.WriteError(w, http.StatusInternalServerError, httpx.CodeInternal, err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(b)
	})
}
