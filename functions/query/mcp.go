package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/mcp"
)

// MCP over JSON-RPC 2.0 (streamable HTTP, one message per POST), the same
// shape as the ingest function's /mcp: initialize, ping, tools/list and
// tools/call, with the tool search_all_systems {query | vector, mode,
// hybrid_weight, limit, threshold, system_id, as_of}. A tool's answer fields are at the top level of the
// result (Session-Buddy reads them there), and also as structuredContent
// and text content.

// searchToolSchema is search_all_systems' input schema.
var searchToolSchema = map[string]any{
	"type": "object",
	"properties": map[string]any{
		"query": map[string]any{"type": "string", "description": "text to search for: BM25 over content and tags, fused with the vector ranking when the server has an embeddings endpoint (or a vector is given)"},
		"mode": map[string]any{"type": "string", "enum": []any{"vector", "text", "hybrid"},
			"description": "default: hybrid with a query and a vector (given or embedded), vector with a vector only, text with a query and no embeddings endpoint"},
		"hybrid_weight": map[string]any{"type": "number", "minimum": 0, "maximum": 1, "default": 0.5, "description": "hybrid mode: the vector ranking's share in the fusion"},
		"vector":        map[string]any{"type": "array", "items": map[string]any{"type": "number"}, "description": "384-d query embedding, instead of query"},
		"limit":         map[string]any{"type": "integer", "minimum": 1, "maximum": MaxSearchK, "default": DefaultSearchK},
		"threshold":     map[string]any{"type": "number", "minimum": -1, "maximum": 1, "description": "lowest cosine similarity to return (modes vector and hybrid)"},
		"system_id": map[string]any{"description": "only these systems", "oneOf": []any{
			map[string]any{"type": "string"}, map[string]any{"type": "array", "items": map[string]any{"type": "string"}}}},
		"as_of": map[string]any{"description": "search the memories as they were: a memories table version (integer) or an RFC 3339 time " +
			"(the newest version committed at or before it); versions the log no longer retains are refused", "oneOf": []any{
			map[string]any{"type": "integer", "minimum": 0}, map[string]any{"type": "string", "format": "date-time"}}},
	},
}

// MCPTools are the tools this function serves over MCP (akosha serve merges
// them with the ingest function's behind one /mcp).
func (f *Function) MCPTools() []mcp.Tool {
	tools := []mcp.Tool{{
		Name:        "search_all_systems",
		Description: "Search across the memories of every Session-Buddy system: semantic (cosine similarity), full-text (BM25) or both fused (hybrid); best first.",
		InputSchema: searchToolSchema,
		Perm:        auth.Read,
		Call:        f.toolSearch,
	}}
	tools = append(tools, f.analyticsTools()...) // analyze_trends, detect_anomalies, correlate_systems
	return append(tools, f.graphTools()...)      // query_knowledge_graph, find_path
}

// CallTool runs one of MCPTools; the answer is the tool's fields (wrap them
// with the MCP result shape). An unknown tool is an error wrapping
// ErrUnknownTool.
func (f *Function) CallTool(r *http.Request, name string, args json.RawMessage) (map[string]any, error) {
	switch name {
	case "search_all_systems":
		return f.toolSearch(r, args)
	case "analyze_trends", "detect_anomalies", "correlate_systems", "query_knowledge_graph", "find_path":
		for _, t := range append(f.analyticsTools(), f.graphTools()...) {
			if t.Name == name {
				return t.Call(r, args)
			}
		}
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownTool, name)
}

// ErrUnknownTool is returned by CallTool for a tool it does not serve.
var ErrUnknownTool = errors.New("unknown tool")

func (f *Function) toolSearch(r *http.Request, args json.RawMessage) (map[string]any, error) {
	var a struct {
		Query        string          `json:"query"`
		Mode         string          `json:"mode"`
		HybridWeight *float64        `json:"hybrid_weight"`
		Vector       []float64       `json:"vector"`
		Limit        *int            `json:"limit"`
		Threshold    *float64        `json:"threshold"`
		SystemID     StringList      `json:"system_id"`
		Filter       *SearchFilter   `json:"filter"`
		AsOf         AsOf            `json:"as_of"`
		Extra        json.RawMessage `json:"-"`
	}
	if len(args) == 0 {
		args = json.RawMessage("{}")
	}
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, badRequest("invalid_arguments", "search_all_systems arguments: %v", err)
	}
	req := SearchRequest{Vector: a.Vector, Text: a.Query, Mode: a.Mode, HybridWeight: a.HybridWeight, K: a.Limit, Threshold: a.Threshold, Filter: a.Filter, AsOf: a.AsOf}
	if len(a.SystemID) > 0 && !(len(a.SystemID) == 1 && strings.TrimSpace(a.SystemID[0]) == "") {
		if req.Filter == nil {
			req.Filter = &SearchFilter{}
		}
		req.Filter.SystemID = a.SystemID
	}
	resp, err := f.Search(r.Context(), req)
	if err != nil {
		return nil, err
	}
	results := make([]any, len(resp.Results))
	for i, res := range resp.Results {
		results[i] = res
	}
	return map[string]any{
		"results": results, "count": len(results), "total": len(results),
		"elapsed_ms": resp.ElapsedMS, "version": resp.Version,
	}, nil
}

// ToolResult wraps a tool's answer in the MCP result shape (see internal/mcp).
func ToolResult(answer map[string]any, err error) map[string]any { return mcp.Result(answer, err) }
