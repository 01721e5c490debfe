package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/akosha/akosha/internal/auth"
)

func TestServer(t *testing.T) {
	s := &Server{Name: "t", Tools: []Tool{
		{Name: "echo", Perm: auth.Read, Call: func(r *http.Request, args json.RawMessage) (map[string]any, error) {
			return map[string]any{"args": string(args)}, nil
		}},
		{Name: "write", Perm: auth.Write, Call: func(r *http.Request, args json.RawMessage) (map[string]any, error) {
			return map[string]any{"status": "stored"}, nil
		}},
		{Name: "fail", Perm: auth.Read, Call: func(r *http.Request, args json.RawMessage) (map[string]any, error) {
			return nil, errors.New("boom")
		}},
	}}
	call := func(body string, p *auth.Principal) map[string]any {
		req := httptest.NewRequest("POST", "/mcp", bytes.NewBufferString(body))
		if p != nil {
			req = req.WithContext(auth.NewContext(req.Context(), *p))
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		var out map[string]any
		json.Unmarshal(rec.Body.Bytes(), &out)
		return out
	}
	res := call(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"a":1}}}`, nil)
	if r := res["result"].(map[string]any); r["args"] != `{"a":1}` || r["isError"] != false || r["structuredContent"] == nil {
		t.Errorf("echo: %v", res)
	}
	viewer := &auth.Principal{Name: "v", Role: auth.RoleViewer}
	if r := call(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write"}}`, viewer)["result"].(map[string]any); r["isError"] != true {
		t.Errorf("a viewer ran a write tool: %v", r)
	}
	if r := call(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"fail"}}`, nil)["result"].(map[string]any); r["isError"] != true || r["error"] != "boom" {
		t.Errorf("failing tool: %v", r)
	}
	if e := call(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, nil)["result"].(map[string]any)["tools"].([]any); len(e) != 3 {
		t.Errorf("tools/list: %v", e)
	}
	for body, code := range map[string]float64{
		`{nope`: CodeParseError, `{"jsonrpc":"1.0","id":1,"method":"x"}`: CodeInvalidRequest,
		`{"jsonrpc":"2.0","id":1,"method":"x"}`:                                 CodeMethodNotFound,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"zz"}}`: CodeInvalidParams,
	} {
		if e, _ := call(body, nil)["error"].(map[string]any); e == nil || e["code"].(float64) != code {
			t.Errorf("%s: want error %v", body, code)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{}}}`))
	f.Add([]byte(`[{"jsonrpc":"2.0"}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := Decode(body)
		if err == nil && (req.JSONRPC != "2.0" || req.Method == "") {
			t.Fatalf("accepted an invalid request: %q", body)
		}
	})
}
