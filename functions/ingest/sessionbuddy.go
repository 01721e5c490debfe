package ingest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/akosha/akosha/internal/httpx"
)

// Session-Buddy reaches Akosha with nothing but an endpoint URL, by default
// http://localhost:8682/mcp, and appends its own paths to it:
//
//	GET  {endpoint}/status        reachability (HttpSyncMethod)
//	POST {endpoint}/mcp/v1        MCP tools/call (HttpSyncMethod)
//	POST {endpoint}/store_memory  one memory (sync.py, AKOSHA_URL)
//
// so an endpoint ending in /mcp makes /mcp/status, /mcp/mcp/v1 and
// /mcp/store_memory. The function serves all of them with the semantics of
// /status, /mcp/v1 and store_memory.
var (
	statusPaths      = []string{"GET /status", "GET /mcp/status"}
	mcpPaths         = []string{"/mcp", "/mcp/v1", "/mcp/mcp/v1"}
	storeMemoryPaths = []string{"/store_memory", "/mcp/store_memory"}
)

// MCPPaths are the paths that answer MCP JSON-RPC; akosha serve answers them
// with both functions' tools.
func MCPPaths() []string { return append([]string(nil), mcpPaths...) }

// plainMemory is the body sync.py posts to {AKOSHA_URL}/store_memory.
type plainMemory struct {
	ID        string          `json:"id"`
	Text      string          `json:"text"`
	Embedding json.RawMessage `json:"embedding"`
	Metadata  map[string]any  `json:"metadata"`
}

// serveStoreMemory stores one memory posted as sync.py does. It answers
// store_memory's result: 200 when stored, 422 with the same body (and a
// top-level error) when not, since sync.py only looks at the status code.
func (f *Function) serveStoreMemory(w http.ResponseWriter, r *http.Request) {
	buf, ok := readPost(w, r, f.cfg.MaxBodyBytes)
	if !ok {
		return
	}
	defer releaseBody(buf)
	var m plainMemory
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_json", "store_memory body: "+err.Error())
		return
	}
	sb := sbMemory{MemoryID: m.ID, Text: m.Text, Embedding: m.Embedding, Metadata: sourceAsSystem(m.Metadata)}
	resp, err := f.storeMemories(r, [][]byte{sb.toRecord("")})
	if err != nil {
		httpx.WriteErr(w, err)
		return
	}
	status := http.StatusOK
	if resp.Stored == 0 {
		status = http.StatusUnprocessableEntity
	}
	httpx.WriteJSON(w, status, batchAnswer(resp))
}

// sourceAsSystem names the system of a sync.py memory. sync.py sets
// metadata.source to the Session-Buddy instance's URL
// (http://localhost:8678), which is no system id: its host and port become
// one (localhost-8678) and the URL is kept as metadata.source_url. A source
// that is already a system id is left alone. The caller's map is not changed.
func sourceAsSystem(meta map[string]any) map[string]any {
	src, _ := meta["source"].(string)
	u, err := url.Parse(src)
	if src == "" || err != nil || u.Host == "" {
		return meta
	}
	out := make(map[string]any, len(meta)+1)
	for k, v := range meta {
		out[k] = v
	}
	out["source"] = strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			return c
		}
		return '-'
	}, u.Host)
	u.User = nil // never store credentials
	out["source_url"] = u.String()
	return out
}
