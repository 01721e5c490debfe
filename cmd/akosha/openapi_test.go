package main

// The contract, api/openapi.yaml, against the processes the binary runs:
// `akosha serve` and `akosha function ingest|query`, built by the same code
// as the commands, on the real S3 server, with auth on. See the header of
// api/openapi.yaml for the conventions the examples follow.

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/akosha/akosha/api"
	"github.com/akosha/akosha/internal/fnrun"
	"github.com/akosha/akosha/internal/testenv"
)

// The credentials of the test processes (AKOSHA_API_KEYS).
const (
	adminKey  = "admin-key-0123456789abcdef"
	viewerKey = "viewer-key-0123456789abcdef"
)

// process is one running server.
type process struct {
	url string
	srv *fnrun.Server
}

// startServer runs the server build makes, on a fresh lake in the S3 test
// server, until the test ends. env adds to the environment (rate limits).
func startServer(t *testing.T, build func(*runtime) (*fnrun.Server, error), env map[string]string) *process {
	t.Helper()
	s3 := testenv.S3Config(t)
	if err := testenv.S3(t).EnsureBucket(testenv.Context(t)); err != nil { // the bucket, once
		t.Fatal(err)
	}
	q := url.Values{"endpoint": {s3.Endpoint}, "region": {s3.Region}, "path_style": {"true"}}
	return startServerOn(t, "s3://"+s3.Bucket+"/"+s3.Prefix+"?"+q.Encode(), build, env)
}

// startServerOn is startServer on the lake lakeURL names.
func startServerOn(t *testing.T, lakeURL string, build func(*runtime) (*fnrun.Server, error), env map[string]string) *process {
	t.Helper()
	t.Setenv("AKOSHA_API_KEYS", "admin:admin:"+adminKey+",viewer:viewer:"+viewerKey)
	t.Setenv("AKOSHA_JWT_SECRET", "")
	t.Setenv("AKOSHA_CACHE_DIR", t.TempDir())
	t.Setenv("AKOSHA_EMBEDDINGS_URL", "") // text search is then a documented 400
	t.Setenv("AKOSHA_RATE_LIMIT", "")
	t.Setenv("AKOSHA_REDIS_URL", "")
	for k, v := range env {
		t.Setenv(k, v)
	}
	g := &globals{lakeURL: lakeURL}
	ctx := testenv.Context(t)
	rt, err := g.newRuntime(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := build(rt)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	p := &process{url: "http://" + ln.Addr().String(), srv: srv}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if status, _, _ := p.do(t, http.MethodGet, "/health/readiness", nil, nil); status == http.StatusOK {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatal("the server did not become ready within a minute")
		}
	}
}

func (p *process) do(t *testing.T, method, path string, body []byte, hdr http.Header) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(testenv.Context(t), method, p.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the answer: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, b
}

// contract loads and validates the document a process serves.
func contract(t *testing.T, p *process) *openapi3.T {
	t.Helper()
	status, hdr, b := p.do(t, http.MethodGet, api.Path, nil, nil)
	if status != http.StatusOK || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s without credentials = %d %s", api.Path, status, hdr.Get("Content-Type"))
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatal(err)
	}
	// Examples of bad requests are meant not to match their schemas; the
	// response examples are checked in api's own tests.
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		t.Fatalf("the served document is not valid OpenAPI: %v", err)
	}
	return doc
}

// operation is one documented (method, path).
type operation struct {
	method, path string
	op           *openapi3.Operation
}

func (o operation) String() string { return o.method + " " + o.path }

// operations lists the document's operations, writes (ingest POSTs) first so
// that reads find what they stored, then by path and method.
func operations(doc *openapi3.T) []operation {
	var ops []operation
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops = append(ops, operation{method, path, op})
		}
	}
	write := func(o operation) bool { return o.method == http.MethodPost && slices.Contains(o.op.Tags, "ingest") }
	sort.Slice(ops, func(i, j int) bool {
		if wi, wj := write(ops[i]), write(ops[j]); wi != wj {
			return wi
		}
		return ops[i].String() < ops[j].String()
	})
	return ops
}

// servedBy says whether a process running these functions serves o: the
// tags name the functions owning an operation, "process" every process.
func servedBy(o operation, functions []string) bool {
	for _, tag := range o.op.Tags {
		if tag == "process" || slices.Contains(functions, tag) {
			return true
		}
	}
	return false
}

// The processes of the binary, named by the functions they run.
var processes = []struct {
	name      string
	functions []string
	build     func(*runtime) (*fnrun.Server, error)
}{
	{"serve", []string{"ingest", "query"}, (*runtime).bothServer},
	{"function ingest", []string{"ingest"}, oneFunction("ingest", nil)},
	{"function query", []string{"query"}, oneFunction("query", nil)},
}

// oneFunction builds the server of `akosha function name`; fn, if not nil,
// receives the function.
func oneFunction(name string, fn *interface{ Patterns() []string }) func(*runtime) (*fnrun.Server, error) {
	return func(rt *runtime) (*fnrun.Server, error) {
		srv, f, err := rt.functionServer(name)
		if fn != nil {
			*fn = f
		}
		return srv, err
	}
}

// No drift either way: each process's routes, as its ServeMux registered
// them, are documented, and each documented operation of its functions
// reaches a registered route.
func TestEveryRouteIsDocumentedAndEveryDocumentedRouteServed(t *testing.T) {
	for _, pr := range processes {
		t.Run(pr.name, func(t *testing.T) {
			p := startServer(t, pr.build, nil)
			doc := contract(t, p)
			patterns := p.srv.Patterns()
			if len(patterns) < 5 {
				t.Fatalf("the server registered only %q", patterns)
			}
			mux := http.NewServeMux()
			for _, pattern := range patterns {
				checkDocumented(t, doc, pattern, pr.functions)
				mux.HandleFunc(pattern, func(http.ResponseWriter, *http.Request) {})
			}
			for _, o := range operations(doc) {
				if !servedBy(o, pr.functions) {
					continue
				}
				req, _ := http.NewRequest(o.method, "http://x"+samplePath(o.path), nil)
				if _, pattern := mux.Handler(req); pattern == "" {
					t.Errorf("%s is documented for %v but no route serves it", o, pr.functions)
				}
			}
		})
	}
}

// A function's own routes, as its ServeMux registered them, are documented
// for it and reach it through the process that runs it: a route added to a
// function but not to its Routes (so never served) fails here.
func TestFunctionsRoutesReachThemAndAreDocumented(t *testing.T) {
	for _, name := range []string{"ingest", "query"} {
		t.Run(name, func(t *testing.T) {
			var fn interface{ Patterns() []string }
			p := startServerOn(t, t.TempDir(), oneFunction(name, &fn), nil)
			doc := contract(t, p)
			process := http.NewServeMux()
			for _, pattern := range p.srv.Patterns() {
				process.HandleFunc(pattern, func(http.ResponseWriter, *http.Request) {})
			}
			patterns := fn.Patterns()
			if len(patterns) < 3 {
				t.Fatalf("the %s function registered only %q", name, patterns)
			}
			for _, pattern := range patterns {
				checkDocumented(t, doc, pattern, []string{name})
				method, path, ok := strings.Cut(pattern, " ")
				if !ok {
					method, path = http.MethodPost, pattern // the ingest routes check their method themselves
				}
				req, _ := http.NewRequest(method, "http://x"+samplePath(strings.ReplaceAll(path, "...}", "}")), nil)
				if _, routed := process.Handler(req); routed == "" {
					t.Errorf("the %s function registers %q but its process does not route it there (Routes)", name, pattern)
				}
			}
		})
	}
}

// checkDocumented fails unless a ServeMux pattern ("[METHOD ]/path") is a
// documented path of one of functions (and the method, if it names one).
func checkDocumented(t *testing.T, doc *openapi3.T, pattern string, functions []string) {
	t.Helper()
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "", pattern
	}
	// ServeMux's {name...} (the rest of the path) is an ordinary
	// parameter in OpenAPI, whose values may hold slashes.
	path = strings.ReplaceAll(path, "...}", "}")
	item := doc.Paths.Value(path)
	if item == nil {
		t.Errorf("route %q is served but %s is not in api/openapi.yaml", pattern, path)
		return
	}
	var ops []operation
	for m, op := range item.Operations() {
		if method == "" || m == method {
			ops = append(ops, operation{m, path, op})
		}
	}
	if len(ops) == 0 {
		t.Errorf("route %q is served but api/openapi.yaml documents no %s on %s", pattern, method, path)
	}
	for _, o := range ops {
		if !servedBy(o, functions) {
			t.Errorf("route %q is served by %v but %s is tagged %v", pattern, functions, o, o.op.Tags)
		}
	}
}

// samplePath fills a path template's parameters with values that match.
func samplePath(path string) string {
	for {
		i := strings.IndexByte(path, '{')
		if i < 0 {
			return path
		}
		j := strings.IndexByte(path[i:], '}')
		path = path[:i] + "a" + path[i+j+1:]
	}
}

// Every example of the document, replayed against `akosha serve`: the
// answer has the status of the response holding the example's name, a
// documented content type, and a body valid against its schema.
func TestDocumentedExamplesAgainstTheHandlers(t *testing.T) {
	p := startServer(t, (*runtime).bothServer, nil)
	doc := contract(t, p)
	replayed := 0
	for _, o := range operations(doc) {
		names := exampleNames(o.op)
		if len(names) == 0 {
			names = []string{""} // no request example: the operation as it is
		}
		for _, name := range names {
			req := buildExample(t, o, name)
			status, hdr, body := p.do(t, o.method, req.path, req.body, req.header)
			want, resp := expectedResponse(o.op, name)
			if resp == nil {
				t.Errorf("%s example %q: no response holds an example of that name", o, name)
				continue
			}
			if status != want {
				t.Errorf("%s example %q: answered %d, documented %d: %s", o, name, status, want, truncate(body))
				continue
			}
			checkResponse(t, fmt.Sprintf("%s example %q", o, name), resp, hdr, body)
			replayed++
		}
	}
	t.Logf("%d examples of %d operations replayed", replayed, len(operations(doc)))
}

// exampleNames are an operation's request examples: those of its body when
// it has one, else those of its parameters, in the order of their names.
func exampleNames(op *openapi3.Operation) []string {
	set := map[string]bool{}
	if op.RequestBody != nil {
		for _, mt := range op.RequestBody.Value.Content {
			for name := range mt.Examples {
				set[name] = true
			}
		}
	} else {
		for _, p := range op.Parameters {
			for name := range p.Value.Examples {
				set[name] = true
			}
		}
	}
	names := make([]string, 0, len(set))
	for name := range set {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

type exampleRequest struct {
	path   string
	header http.Header
	body   []byte
}

// buildExample makes the request of example name: each parameter's value
// of that name (or its single example), the body of that name, and admin
// credentials unless the operation needs none.
func buildExample(t *testing.T, o operation, name string) exampleRequest {
	t.Helper()
	r := exampleRequest{path: o.path, header: http.Header{}}
	query := url.Values{}
	for _, ref := range o.op.Parameters {
		p := ref.Value
		v, ok := parameterExample(p, name)
		if !ok {
			if p.Required {
				t.Fatalf("%s example %q: required parameter %s has no example", o, name, p.Name)
			}
			continue
		}
		s := fmt.Sprint(v)
		switch p.In {
		case openapi3.ParameterInPath:
			r.path = strings.ReplaceAll(r.path, "{"+p.Name+"}", s)
		case openapi3.ParameterInQuery:
			query.Add(p.Name, s)
		case openapi3.ParameterInHeader:
			r.header.Set(p.Name, s)
		}
	}
	if len(query) > 0 {
		r.path += "?" + query.Encode()
	}
	if o.op.RequestBody != nil {
		for mt, content := range o.op.RequestBody.Value.Content {
			ex, ok := content.Examples[name]
			if !ok {
				continue
			}
			r.header.Set("Content-Type", mt)
			if s, ok := ex.Value.Value.(string); ok && mt != "application/json" {
				r.body = []byte(s) // NDJSON: the example is the body's text
			} else {
				r.body = mustJSON(t, ex.Value.Value)
			}
		}
	}
	if o.op.Security == nil || len(*o.op.Security) > 0 {
		r.header.Set("X-API-Key", adminKey)
	}
	return r
}

func parameterExample(p *openapi3.Parameter, name string) (any, bool) {
	if ex, ok := p.Examples[name]; ok {
		return ex.Value.Value, true
	}
	if p.Example != nil {
		return p.Example, true
	}
	return nil, false
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// expectedResponse finds the response holding an example named name (for
// the nameless replay: the first 2xx response).
func expectedResponse(op *openapi3.Operation, name string) (int, *openapi3.Response) {
	codes := op.Responses.Map()
	keys := make([]string, 0, len(codes))
	for code := range codes {
		keys = append(keys, code)
	}
	sort.Strings(keys)
	for _, code := range keys {
		resp := codes[code].Value
		for _, mt := range resp.Content {
			if _, ok := mt.Examples[name]; ok || (name == "" && strings.HasPrefix(code, "2")) {
				var status int
				fmt.Sscan(code, &status)
				return status, resp
			}
		}
	}
	return 0, nil
}

// checkResponse validates an answer against the documented response: its
// content type is documented and its body valid against the schema (JSON),
// or of the documented shape (CSV, NDJSON, Parquet, text); documented
// headers present hold valid values.
func checkResponse(t *testing.T, what string, resp *openapi3.Response, hdr http.Header, body []byte) {
	t.Helper()
	ct, _, _ := mime.ParseMediaType(hdr.Get("Content-Type"))
	mt := resp.Content[ct]
	if mt == nil {
		t.Errorf("%s: content type %q is not documented (%v)", what, ct, keys(resp.Content))
		return
	}
	for name, h := range resp.Headers {
		if v := hdr.Get(name); v != "" {
			if err := h.Value.Schema.Value.VisitJSON(headerValue(v), openapi3.EnableJSONSchema2020()); err != nil {
				t.Errorf("%s: header %s: %q: %v", what, name, v, err)
			}
		}
	}
	switch ct {
	case "application/json":
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Errorf("%s: not JSON: %v: %s", what, err, truncate(body))
			return
		}
		if err := mt.Schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
			t.Errorf("%s: the answer does not match its schema: %v\n%s", what, err, truncate(body))
		}
	case "text/csv":
		if rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll(); err != nil || len(rows) < 1 {
			t.Errorf("%s: not CSV with a header: %v", what, err)
		}
	case "application/x-ndjson":
		for _, line := range bytes.Split(bytes.TrimSpace(body), []byte("\n")) {
			var obj map[string]any
			if err := json.Unmarshal(line, &obj); err != nil {
				t.Errorf("%s: line %q is not a JSON object: %v", what, line, err)
			}
		}
	case "application/vnd.apache.parquet":
		if !bytes.HasPrefix(body, []byte("PAR1")) || !bytes.HasSuffix(body, []byte("PAR1")) {
			t.Errorf("%s: not a Parquet file", what)
		}
	default:
		if len(body) == 0 {
			t.Errorf("%s: an empty %s answer", what, ct)
		}
	}
}

// headerValue is a header as JSON would hold it: numbers as numbers.
func headerValue(v string) any {
	var n float64
	if _, err := fmt.Sscan(v, &n); err == nil && fmt.Sprint(n) == v {
		return n
	}
	return v
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func truncate(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "..."
	}
	return string(b)
}

// Bad inputs beyond the examples: each answer has a documented status and
// validates against the error schema (MCP answers JSON-RPC errors in a 200,
// which must match its own documented schema).
func TestErrorAnswersMatchTheContract(t *testing.T) {
	p := startServer(t, (*runtime).bothServer, nil)
	doc := contract(t, p)
	errSchema := doc.Components.Schemas["Error"].Value
	check := func(o operation, what string, status int, hdr http.Header, body []byte) {
		t.Helper()
		resp := o.op.Responses.Status(status)
		if resp == nil {
			t.Errorf("%s %s: answered %d, which is not documented: %s", o, what, status, truncate(body))
			return
		}
		checkResponse(t, o.String()+" "+what, resp.Value, hdr, body)
		if status >= 400 {
			var v any
			if err := json.Unmarshal(body, &v); err != nil || errSchema.VisitJSON(v, openapi3.EnableJSONSchema2020()) != nil {
				t.Errorf("%s %s: %d is not the error body: %s", o, what, status, truncate(body))
			}
		}
	}
	wantStatus := func(o operation, what string, status int, want ...int) {
		t.Helper()
		if !slices.Contains(want, status) {
			t.Errorf("%s %s: answered %d, want %v", o, what, status, want)
		}
	}
	for _, o := range operations(doc) {
		path := samplePath(o.path)
		switch role(t, o) {
		case "none":
			if o.op.Security == nil || len(*o.op.Security) > 0 {
				t.Errorf("%s needs no role but is documented with security", o)
			}
			status, _, _ := p.do(t, o.method, path, nil, nil)
			wantStatus(o, "without credentials", status, http.StatusOK)
		case "viewer", "operator":
			status, hdr, body := p.do(t, o.method, path, nil, nil)
			wantStatus(o, "without credentials", status, http.StatusUnauthorized)
			check(o, "without credentials", status, hdr, body)
			status, hdr, body = p.do(t, o.method, path, nil, http.Header{"X-Api-Key": {"not-a-key-0123456789"}})
			wantStatus(o, "with a wrong key", status, http.StatusUnauthorized)
			check(o, "with a wrong key", status, hdr, body)
			viewer := http.Header{"X-Api-Key": {viewerKey}, "Content-Type": {"application/json"}}
			status, hdr, body = p.do(t, o.method, path, []byte(`{}`), viewer)
			if role(t, o) == "operator" {
				wantStatus(o, "as a viewer", status, http.StatusForbidden)
				check(o, "as a viewer", status, hdr, body)
			} else if status == http.StatusUnauthorized || status == http.StatusForbidden {
				t.Errorf("%s needs the viewer role but a viewer got %d: %s", o, status, truncate(body))
			}
		}
		if o.method != http.MethodPost {
			continue
		}
		admin := http.Header{"X-Api-Key": {adminKey}, "Content-Type": {"application/json"}}
		status, hdr, body := p.do(t, o.method, path, []byte(`{"sql": `), admin)
		check(o, "with a truncated JSON body", status, hdr, body)
		if role(t, o) == "operator" { // the ingest endpoints
			wantStatus(o, "with a truncated JSON body", status, http.StatusBadRequest)
			gz := http.Header{"X-Api-Key": {adminKey}, "Content-Encoding": {"gzip"}}
			status, hdr, body = p.do(t, o.method, path, []byte("not gzip"), gz)
			wantStatus(o, "with a body that is not gzip", status, http.StatusBadRequest)
			check(o, "with a body that is not gzip", status, hdr, body)
			br := http.Header{"X-Api-Key": {adminKey}, "Content-Encoding": {"br"}}
			status, hdr, body = p.do(t, o.method, path, gzipped(t, "{}"), br)
			wantStatus(o, "with Content-Encoding br", status, http.StatusUnsupportedMediaType)
			check(o, "with Content-Encoding br", status, hdr, body)
		}
	}
	for _, path := range []string{"/v1/analytics/trends?bogus=1", "/v1/analytics/anomalies?window=-1d", "/v1/analytics/correlations?alpha=2", "/v1/graph/path?from=a"} {
		o := operation{http.MethodGet, strings.Split(path, "?")[0], doc.Paths.Value(strings.Split(path, "?")[0]).Get}
		status, hdr, body := p.do(t, http.MethodGet, path, nil, http.Header{"X-Api-Key": {adminKey}})
		wantStatus(o, path, status, http.StatusBadRequest)
		check(o, path, status, hdr, body)
	}
}

// role is the least role an operation needs, as documented.
func role(t *testing.T, o operation) string {
	t.Helper()
	r, _ := o.op.Extensions["x-akosha-role"].(string)
	if !slices.Contains([]string{"none", "viewer", "operator", "admin"}, r) {
		t.Fatalf("%s: x-akosha-role %q: want none, viewer, operator or admin", o, r)
	}
	return r
}

func gzipped(t *testing.T, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	io.WriteString(w, s)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// With AKOSHA_RATE_LIMIT set, an empty bucket is the documented 429 with
// Retry-After.
func TestRateLimitAnswerMatchesTheContract(t *testing.T) {
	p := startServer(t, (*runtime).bothServer, map[string]string{"AKOSHA_RATE_LIMIT": "0.01", "AKOSHA_RATE_BURST": "1"})
	doc := contract(t, p)
	o := operation{http.MethodGet, "/v1/systems", doc.Paths.Value("/v1/systems").Get}
	viewer := http.Header{"X-Api-Key": {viewerKey}}
	if status, _, body := p.do(t, o.method, o.path, nil, viewer); status != http.StatusOK {
		t.Fatalf("first request: %d %s", status, body)
	}
	status, hdr, body := p.do(t, o.method, o.path, nil, viewer)
	resp := o.op.Responses.Status(status)
	if status != http.StatusTooManyRequests || resp == nil {
		t.Fatalf("second request within the burst: %d %s", status, body)
	}
	if hdr.Get("Retry-After") == "" || resp.Value.Headers["Retry-After"] == nil {
		t.Errorf("429 without a (documented) Retry-After: %v", hdr)
	}
	checkResponse(t, "429", resp.Value, hdr, body)
}
