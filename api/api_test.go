package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/akosha/akosha/api"
)

// load parses the embedded document as a client would the served JSON.
func load(t *testing.T) *openapi3.T {
	t.Helper()
	b, err := api.JSON()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatalf("openapi.yaml does not load: %v", err)
	}
	return doc
}

// The document is OpenAPI 3.1 and valid by kin-openapi's checks (examples
// aside: those of bad requests are meant not to match; the next tests check
// the others).
func TestTheDocumentIsValidOpenAPI31(t *testing.T) {
	doc := load(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi %q, want 3.1.x", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		t.Fatal(err)
	}
}

// Every operation has an id, a role, and at least one example; every
// response example matches its schema, and so does every request example
// but those marked x-akosha-invalid, which must not (a bad request that has
// become a good one would no longer show what it was written to show).
func TestExamplesMatchTheirSchemas(t *testing.T) {
	doc := load(t)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			if op.OperationID == "" || op.Extensions["x-akosha-role"] == nil {
				t.Errorf("%s: needs an operationId and an x-akosha-role", name)
			}
			examples := 0
			for code, ref := range op.Responses.Map() {
				for mt, content := range ref.Value.Content {
					for ex, v := range content.Examples {
						examples++
						if err := content.Schema.Value.VisitJSON(v.Value.Value, openapi3.EnableJSONSchema2020()); err != nil {
							t.Errorf("%s %s %s example %q does not match its schema: %v", name, code, mt, ex, err)
						}
					}
				}
			}
			if examples == 0 {
				t.Errorf("%s has no example", name)
			}
			if op.RequestBody == nil {
				continue
			}
			for mt, content := range op.RequestBody.Value.Content {
				for ex, v := range content.Examples {
					err := content.Schema.Value.VisitJSON(v.Value.Value, openapi3.EnableJSONSchema2020())
					switch invalid := v.Value.Extensions["x-akosha-invalid"] == true; {
					case invalid && err == nil:
						t.Errorf("%s request %s example %q is marked x-akosha-invalid but matches its schema", name, mt, ex)
					case !invalid && err != nil:
						t.Errorf("%s request %s example %q does not match its schema: %v", name, mt, ex, err)
					}
				}
			}
		}
	}
}

// Every error response is the one error body.
func TestEveryErrorResponseIsTheErrorBody(t *testing.T) {
	doc := load(t)
	errSchema := doc.Components.Schemas["Error"].Value
	var checked []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for code, ref := range op.Responses.Map() {
				json := ref.Value.Content.Get("application/json")
				// A batch without a valid record is a 422 with the ingest
				// answer itself, which reports each record's error (sync.py's
				// store_memory too, with the MCP tool's answer).
				if code < "400" || json == nil || ref.Ref == "#/components/responses/IngestFailed" ||
					ref.Ref == "#/components/responses/SyncPyNotStored" {
					continue
				}
				if json.Schema.Value != errSchema {
					t.Errorf("%s %s %s: the body is not #/components/schemas/Error", method, path, code)
				}
				checked = append(checked, method+" "+path+" "+code)
			}
		}
	}
	sort.Strings(checked)
	if len(checked) < 50 {
		t.Errorf("only %d error responses: %v", len(checked), checked)
	}
}

func TestHandlerServesTheDocumentAsJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	api.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, api.Path, nil))
	want, _ := api.JSON()
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" || rec.Body.String() != string(want) {
		t.Errorf("GET %s = %d %s", api.Path, rec.Code, rec.Header().Get("Content-Type"))
	}
	if !strings.Contains(string(api.YAML()), "openapi: 3.1") {
		t.Error("YAML() is not the document")
	}
}
