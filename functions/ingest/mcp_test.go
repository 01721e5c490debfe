package ingest_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/schemas"
)

func rpc(t *testing.T, url, method string, params any) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	a := post(t, url, body, nil)
	if a.Status != 200 {
		t.Fatalf("%s: HTTP %d %s", method, a.Status, a.Raw)
	}
	if e, ok := a.Body["error"]; ok {
		t.Fatalf("%s: JSON-RPC error %v", method, e)
	}
	return a.Body["result"].(map[string]any)
}

// Session-Buddy's calls, with exactly its argument shapes: naive ISO
// timestamps, metadata.source as the system, importance_score.
func TestMCPSessionBuddyTools(t *testing.T) {
	s := start(t)
	for _, path := range []string{"/mcp", "/mcp/v1"} {
		init := rpc(t, s.URL+path, "initialize", map[string]any{"protocolVersion": "2025-03-26", "clientInfo": map[string]any{"name": "session-buddy"}})
		if init["protocolVersion"] != "2025-03-26" || init["serverInfo"] == nil {
			t.Errorf("%s initialize: %v", path, init)
		}
	}
	tools := rpc(t, s.URL+"/mcp", "tools/list", nil)["tools"].([]any)
	names := map[string]bool{}
	for _, tl := range tools {
		names[tl.(map[string]any)["name"].(string)] = true
	}
	for _, want := range []string{"store_memory", "batch_store_memories", "store_reflection", "create_entity", "create_relation"} {
		if !names[want] {
			t.Errorf("tools/list lacks %s", want)
		}
	}
	emb := gen.Memories(1, 1, 1, 1)[0].Embedding
	call := func(name string, args map[string]any) map[string]any {
		return rpc(t, s.URL+"/mcp", "tools/call", map[string]any{"name": name, "arguments": args})
	}
	res := call("store_memory", map[string]any{
		"memory_id": "m-1", "text": "we fixed the flaky test", "embedding": emb,
		"metadata": map[string]any{"source": "buddy-1", "type": "conversation", "created_at": "2026-11-20T10:11:12.123456",
			"importance_score": 0.7, "project": "akosha", "tags": []string{"ci"}, "mood": "relieved"},
	})
	if res["status"] != "completed" || res["stored"].(float64) != 1 || res["stored_at"] == nil || res["isError"] != false {
		t.Errorf("store_memory result: %v", res)
	}
	if sc, ok := res["structuredContent"].(map[string]any); !ok || sc["status"] != "completed" {
		t.Errorf("store_memory structuredContent: %v", res["structuredContent"])
	}
	if c := res["content"].([]any); !strings.Contains(c[0].(map[string]any)["text"].(string), `"stored":1`) {
		t.Errorf("store_memory text content: %v", c)
	}
	res = call("batch_store_memories", map[string]any{"memories": []any{
		map[string]any{"memory_id": "m-2", "text": "two", "embedding": emb, "metadata": map[string]any{"source": "buddy-1", "original_id": "orig-2", "created_at": "2026-11-20T10:00:00"}},
		map[string]any{"memory_id": "m-3", "text": "", "metadata": map[string]any{"source": "buddy-1", "created_at": "2026-11-20T10:00:00"}},
	}})
	if res["status"] != "partial" || res["stored"].(float64) != 1 || res["failed"].(float64) != 1 {
		t.Errorf("batch_store_memories result: %v", res)
	}
	res = call("store_reflection", map[string]any{"reflection_id": "r-1", "content": "always run the race detector",
		"metadata": map[string]any{"source": "buddy-1", "tags": []string{"testing"}, "related_entities": []string{"go"}, "created_at": "2026-11-20T09:00:00"}})
	if res["status"] != "stored" || res["id"] != "r-1" {
		t.Errorf("store_reflection result: %v", res)
	}
	res = call("create_entity", map[string]any{"name": "Akosha", "entity_type": "project", "observations": []string{"Go"},
		"properties": map[string]any{"source_system": "buddy-1", "original_id": "ent-1"}, "metadata": map[string]any{}})
	if res["id"] != "ent-1" || res["status"] != "created" {
		t.Errorf("create_entity result: %v", res)
	}
	res = call("create_relation", map[string]any{"from_entity": "Akosha", "to_entity": "DuckDB", "relation_type": "uses",
		"properties": map[string]any{"source_system": "buddy-1"}, "metadata": map[string]any{}})
	if res["id"] == "" || res["status"] != "created" {
		t.Errorf("create_relation result: %v", res)
	}
	if _, n := rows(t, s.lake, schemas.TableMemories); n != 3 {
		t.Errorf("%d memories stored, want 3", n)
	}
	if _, n := rows(t, s.lake, schemas.TableEntities); n != 1 {
		t.Errorf("%d entities stored, want 1", n)
	}
	// A tool error is a result with isError, not a transport failure.
	res = call("store_reflection", map[string]any{"reflection_id": "r-2", "content": "", "metadata": map[string]any{"source": "buddy-1"}})
	if res["isError"] != true || res["status"] != "failed" {
		t.Errorf("invalid reflection: %v", res)
	}
}

func TestMCPProtocolErrors(t *testing.T) {
	s := start(t)
	cases := []struct {
		body string
		code float64
	}{
		{`{not json`, -32700},
		{`{"jsonrpc":"1.0","id":1,"method":"x"}`, -32600},
		{`{"jsonrpc":"2.0","id":1,"method":"nope"}`, -32601},
		{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"drop_tables"}}`, -32602},
	}
	for _, c := range cases {
		a := post(t, s.URL+"/mcp", []byte(c.body), nil)
		e, _ := a.Body["error"].(map[string]any)
		if a.Status != 200 || e == nil || e["code"].(float64) != c.code {
			t.Errorf("%s: %d %s, want JSON-RPC error %v", c.body, a.Status, a.Raw, c.code)
		}
	}
	// A notification gets no answer.
	if a := post(t, s.URL+"/mcp", []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`), nil); a.Status != 202 {
		t.Errorf("notification: %d", a.Status)
	}
}
