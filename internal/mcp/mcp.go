// Package mcp serves tools over the Model Context Protocol: JSON-RPC 2.0 on
// streamable HTTP, one message per POST, with initialize, ping, tools/list
// and tools/call. Both functions describe their tools with it, and
// `akosha serve` merges the two lists behind one /mcp.
//
// A tool's answer is returned the way MCP clients and Session-Buddy both
// read it: its fields at the top level of the JSON-RPC result (Session-Buddy
// reads them there), as structuredContent, and as text content.
package mcp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/httpx"
)

// ProtocolVersion is answered when the client names none.
const ProtocolVersion = "2025-06-18"

// Tool is one callable tool.
type Tool struct {
	Name        string
	Description string
	InputSchema map[string]any
	// Perm is what the caller's principal must hold (auth.Read or auth.Write).
	Perm auth.Permission
	// Call runs the tool; its answer's fields become the result's.
	Call func(r *http.Request, args json.RawMessage) (map[string]any, error)
}

// Server serves a set of tools. Mount it behind auth.Require(auth.Read):
// each tool checks its own permission on top.
type Server struct {
	Name    string // serverInfo.name
	Tools   []Tool
	MaxBody int64 // request body limit; 0 means 32 MiB
}

// JSON-RPC error codes.
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
)

// Request is a JSON-RPC request.
type Request struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params,omitempty"`
}

// Error is a JSON-RPC error.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *Error          `json:"error,omitempty"`
}

// Decode parses one JSON-RPC request (the decoder the fuzz target runs).
func Decode(body []byte) (Request, *Error) {
	var req Request
	if err := json.Unmarshal(body, &req); err != nil {
		return Request{}, &Error{Code: CodeParseError, Message: "parse error: " + err.Error()}
	}
	if req.JSONRPC != "2.0" || req.Method == "" {
		return req, &Error{Code: CodeInvalidRequest, Message: `invalid request: want {"jsonrpc":"2.0","method":...}`}
	}
	return req, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpx.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "MCP takes JSON-RPC messages by POST")
		return
	}
	limit := s.MaxBody
	if limit <= 0 {
		limit = 32 << 20
	}
	body, err := httpx.ReadBody(w, r, limit)
	if err != nil {
		httpx.WriteErr(w, err)
		return
	}
	req, rerr := Decode(body)
	if rerr != nil {
		httpx.WriteJSON(w, http.StatusOK, response{JSONRPC: "2.0", ID: nullID(req.ID), Error: rerr})
		return
	}
	if len(req.ID) == 0 || string(req.ID) == "null" {
		w.WriteHeader(http.StatusAccepted) // a notification: no answer
		return
	}
	result, rerr := s.dispatch(r, req)
	httpx.WriteJSON(w, http.StatusOK, response{JSONRPC: "2.0", ID: req.ID, Result: result, Error: rerr})
}

func nullID(id json.RawMessage) json.RawMessage {
	if len(id) == 0 {
		return json.RawMessage("null")
	}
	return id
}

func (s *Server) dispatch(r *http.Request, req Request) (any, *Error) {
	switch req.Method {
	case "initialize":
		var p struct {
			ProtocolVersion string `json:"protocolVersion"`
		}
		json.Unmarshal(req.Params, &p)
		version := p.ProtocolVersion
		if version == "" {
			version = ProtocolVersion
		}
		return map[string]any{
			"protocolVersion": version,
			"capabilities":    map[string]any{"tools": map[string]any{"listChanged": false}},
			"serverInfo":      map[string]any{"name": s.Name, "version": "1"},
		}, nil
	case "ping":
		return map[string]any{}, nil
	case "tools/list":
		list := make([]map[string]any, len(s.Tools))
		for i, t := range s.Tools {
			list[i] = map[string]any{"name": t.Name, "description": t.Description, "inputSchema": t.InputSchema}
		}
		return map[string]any{"tools": list}, nil
	case "tools/call":
		var p struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		}
		if err := json.Unmarshal(req.Params, &p); err != nil || p.Name == "" {
			return nil, &Error{Code: CodeInvalidParams, Message: "tools/call needs {name, arguments}"}
		}
		tool, ok := s.tool(p.Name)
		if !ok {
			return nil, &Error{Code: CodeInvalidParams, Message: fmt.Sprintf("unknown tool %q", p.Name)}
		}
		if len(p.Arguments) == 0 || string(p.Arguments) == "null" {
			p.Arguments = json.RawMessage("{}")
		}
		if pr, ok := auth.FromContext(r.Context()); ok && !pr.Has(tool.Perm) {
			return Result(nil, httpx.Errorf(http.StatusForbidden, httpx.CodeForbidden,
				"role %s lacks the %s permission that %s needs", pr.Role, tool.Perm, tool.Name)), nil
		}
		answer, err := tool.Call(r, p.Arguments)
		return Result(answer, err), nil
	default:
		return nil, &Error{Code: CodeMethodNotFound, Message: fmt.Sprintf("method %q not found", req.Method)}
	}
}

func (s *Server) tool(name string) (Tool, bool) {
	for _, t := range s.Tools {
		if t.Name == name {
			return t, true
		}
	}
	return Tool{}, false
}

// Result wraps a tool's answer in the result shape; an error becomes
// {status: failed, error} with isError set.
func Result(answer map[string]any, err error) map[string]any {
	if err != nil {
		msg := err.Error()
		var he *httpx.Error
		if errors.As(err, &he) {
			msg = he.Message
		}
		answer = map[string]any{"status": "failed", "error": msg}
	}
	text, _ := json.Marshal(answer)
	out := make(map[string]any, len(answer)+3)
	for k, v := range answer {
		out[k] = v
	}
	out["content"] = []map[string]any{{"type": "text", "text": string(text)}}
	out["structuredContent"] = answer
	out["isError"] = err != nil
	return out
}
