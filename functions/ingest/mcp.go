package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/schemas"
)

// MCP over JSON-RPC 2.0 (streamable HTTP, one message per POST): initialize,
// tools/list and tools/call with the tools Session-Buddy calls, taking
// exactly its arguments (API.md). Each tool maps its arguments onto the same
// records the REST endpoints take, so validation and commits are shared.

const mcpProtocolVersion = "2025-06-18"

type rpcRequest struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params,omitempty"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type rpcResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

// JSON-RPC error codes.
const (
	rpcParseError     = -32700
	rpcInvalidRequest = -32600
	rpcMethodNotFound = -32601
	rpcInvalidParams  = -32602
)

// decodeRPC parses one JSON-RPC request. It is the MCP decoder the fuzz
// target exercises.
func decodeRPC(body []byte) (rpcRequest, *rpcError) {
	var req rpcRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return req, &rpcError{Code: rpcParseError, Message: "parse error: " + err.Error()}
	}
	if req.JSONRPC != "2.0" || req.Method == "" {
		return req, &rpcError{Code: rpcInvalidRequest, Message: `invalid request: want {"jsonrpc":"2.0","method":...}`}
	}
	return req, nil
}

func (f *Function) serveMCP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpx.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "MCP takes JSON-RPC messages by POST")
		return
	}
	rc, err := httpx.DecodeBody(w, r, f.cfg.MaxBodyBytes)
	if err != nil {
		httpx.WriteErr(w, err)
		return
	}
	body, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		httpx.WriteErr(w, err)
		return
	}
	req, rerr := decodeRPC(body)
	if rerr != nil {
		httpx.WriteJSON(w, http.StatusOK, rpcResponse{JSONRPC: "2.0", ID: nullID(req.ID), Error: rerr})
		return
	}
	if len(req.ID) == 0 || string(req.ID) == "null" {
		w.WriteHeader(http.StatusAccepted) // a notification: no answer
		return
	}
	result, rerr := f.dispatchMCP(r, req)
	httpx.WriteJSON(w, http.StatusOK, rpcResponse{JSONRPC: "2.0", ID: req.ID, Result: result, Error: rerr})
}

func nullID(id json.RawMessage) json.RawMessage {
	if len(id) == 0 {
		return json.RawMessage("null")
	}
	return id
}

func (f *Function) dispatchMCP(r *http.Request, req rpcRequest) (any, *rpcError) {
	switch req.Method {
	case "initialize":
		var p struct {
			ProtocolVersion string `json:"protocolVersion"`
		}
		json.Unmarshal(req.Params, &p)
		version := p.ProtocolVersion
		if version == "" {
			version = mcpProtocolVersion
		}
		return map[string]any{
			"protocolVersion": version,
			"capabilities":    map[string]any{"tools": map[string]any{"listChanged": false}},
			"serverInfo":      map[string]any{"name": "akosha-ingest", "version": "1"},
		}, nil
	case "ping":
		return map[string]any{}, nil
	case "tools/list":
		return map[string]any{"tools": ingestTools}, nil
	case "tools/call":
		var p struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		}
		if err := json.Unmarshal(req.Params, &p); err != nil || p.Name == "" {
			return nil, &rpcError{Code: rpcInvalidParams, Message: "tools/call needs {name, arguments}"}
		}
		tool, ok := toolHandlers[p.Name]
		if !ok {
			return nil, &rpcError{Code: rpcInvalidParams, Message: fmt.Sprintf("unknown tool %q", p.Name)}
		}
		if len(p.Arguments) == 0 {
			p.Arguments = json.RawMessage("{}")
		}
		answer, err := tool(f, r, p.Arguments)
		return toolResult(answer, err), nil
	default:
		return nil, &rpcError{Code: rpcMethodNotFound, Message: fmt.Sprintf("method %q not found", req.Method)}
	}
}

// toolResult wraps a tool's answer the way MCP clients and Session-Buddy both
// read it: the fields at the top level of result (Session-Buddy), as
// structuredContent, and as text content.
func toolResult(answer map[string]any, err error) map[string]any {
	if err != nil {
		msg := err.Error()
		if he, ok := err.(*httpx.Error); ok {
			msg = he.Message
		}
		answer = map[string]any{"status": "failed", "error": msg}
	}
	text, _ := json.Marshal(answer)
	out := map[string]any{}
	for k, v := range answer {
		out[k] = v
	}
	out["content"] = []map[string]any{{"type": "text", "text": string(text)}}
	out["structuredContent"] = answer
	out["isError"] = err != nil
	return out
}

type toolHandler func(f *Function, r *http.Request, args json.RawMessage) (map[string]any, error)

var toolHandlers = map[string]toolHandler{
	"store_memory":         (*Function).toolStoreMemory,
	"batch_store_memories": (*Function).toolBatchStoreMemories,
	"store_reflection":     (*Function).toolStoreReflection,
	"create_entity":        (*Function).toolCreateEntity,
	"create_relation":      (*Function).toolCreateRelation,
}

// sbMemory is a memory as Session-Buddy's store_memory sends it.
type sbMemory struct {
	MemoryID  string          `json:"memory_id"`
	Text      string          `json:"text"`
	Embedding json.RawMessage `json:"embedding"`
	Metadata  map[string]any  `json:"metadata"`
}

// memoryFields are metadata keys that are fields of a memory record.
var memoryFields = map[string]string{
	"source": "system_id", "system_id": "system_id", "original_id": "id", "type": "kind",
	"created_at": "created_at", "importance_score": "importance", "importance": "importance",
	"project": "project", "namespace": "namespace", "session_id": "session_id", "user_id": "user_id",
	"category": "category", "subcategory": "subcategory", "tags": "tags", "source_type": "source_type",
}

// toRecord maps Session-Buddy's arguments onto a memory record's JSON.
// Metadata keys that are record fields become fields; the rest stay in
// metadata. An unknown type is kept in metadata and the kind defaults.
func (m sbMemory) toRecord(kind string) json.RawMessage {
	rec := map[string]any{"id": m.MemoryID, "content": m.Text}
	if len(m.Embedding) > 0 && string(m.Embedding) != "null" {
		rec["embedding"] = m.Embedding
	}
	rest := map[string]any{}
	for k, v := range m.Metadata {
		field, ok := memoryFields[k]
		if !ok || v == nil {
			rest[k] = v
			continue
		}
		if field == "kind" {
			if s, _ := v.(string); s == schemas.KindConversation || s == schemas.KindReflection || s == schemas.KindMemory {
				rec["kind"] = s
			} else {
				rest[k] = v
			}
			continue
		}
		if field == "id" && v == "" {
			continue
		}
		rec[field] = v
	}
	if kind != "" {
		rec["kind"] = kind
	}
	if len(rest) > 0 {
		rec["metadata"] = rest
	}
	b, _ := json.Marshal(rec)
	return b
}

func (f *Function) storeMemories(r *http.Request, raws [][]byte) (Response, error) {
	recs, errs, err := decodeRecords[schemas.Memory](schemas.Batch{Records: raws}, memoryKey, time.Now(), f.cfg.MaxRecords)
	if err != nil {
		return Response{}, err
	}
	if err := checkSystems(r, recs, memoryKey); err != nil {
		return Response{}, err
	}
	txn, err := idempotencyTxn(r, mcpBody(raws))
	if err != nil {
		return Response{}, err
	}
	resp, _, err := store(r, f, schemas.TableMemories, f.memories, recs, errs, len(raws), txn)
	return resp, err
}

// mcpBody is what an MCP call's idempotency hash covers: its records.
func mcpBody(raws [][]byte) []byte {
	h := sha256.New()
	for _, r := range raws {
		h.Write(r)
		h.Write([]byte{0})
	}
	return []byte(hex.EncodeToString(h.Sum(nil)))
}

func batchAnswer(resp Response) map[string]any {
	return map[string]any{
		"status": resp.Status, "total": resp.Total, "stored": resp.Stored, "failed": resp.Failed,
		"errors": resp.Errors, "stored_at": time.Now().UTC().Format(time.RFC3339Nano), "version": resp.Version,
	}
}

func (f *Function) toolStoreMemory(r *http.Request, args json.RawMessage) (map[string]any, error) {
	var m sbMemory
	if err := json.Unmarshal(args, &m); err != nil {
		return nil, fmt.Errorf("store_memory arguments: %w", err)
	}
	resp, err := f.storeMemories(r, [][]byte{m.toRecord("")})
	if err != nil {
		return nil, err
	}
	return batchAnswer(resp), nil
}

func (f *Function) toolBatchStoreMemories(r *http.Request, args json.RawMessage) (map[string]any, error) {
	var a struct {
		Memories []sbMemory `json:"memories"`
	}
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, fmt.Errorf("batch_store_memories arguments: %w", err)
	}
	raws := make([][]byte, len(a.Memories))
	for i, m := range a.Memories {
		raws[i] = m.toRecord("")
	}
	resp, err := f.storeMemories(r, raws)
	if err != nil {
		return nil, err
	}
	return batchAnswer(resp), nil
}

func (f *Function) toolStoreReflection(r *http.Request, args json.RawMessage) (map[string]any, error) {
	var a struct {
		ReflectionID string          `json:"reflection_id"`
		Content      string          `json:"content"`
		Embedding    json.RawMessage `json:"embedding"`
		Metadata     map[string]any  `json:"metadata"`
	}
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, fmt.Errorf("store_reflection arguments: %w", err)
	}
	m := sbMemory{MemoryID: a.ReflectionID, Text: a.Content, Embedding: a.Embedding, Metadata: a.Metadata}
	resp, err := f.storeMemories(r, [][]byte{m.toRecord(schemas.KindReflection)})
	if err != nil {
		return nil, err
	}
	if resp.Stored == 0 {
		return nil, recordFailure(resp)
	}
	return map[string]any{"status": "stored", "id": a.ReflectionID, "version": resp.Version}, nil
}

func recordFailure(resp Response) error {
	if len(resp.Errors) > 0 {
		return httpx.Errorf(http.StatusUnprocessableEntity, "invalid_record", "%s", resp.Errors[0].Error)
	}
	return httpx.Errorf(http.StatusUnprocessableEntity, "invalid_record", "the record was not stored")
}

// graphID is the id of an entity or relation: properties.original_id when
// Session-Buddy sends it, else a stable hash of what identifies it, so that a
// re-sent entity replaces itself instead of doubling.
func graphID(props map[string]any, parts ...string) string {
	if s, ok := props["original_id"].(string); ok && s != "" {
		return s
	}
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

func graphSystem(props, meta map[string]any) string {
	for _, m := range []map[string]any{props, meta} {
		for _, k := range []string{"source_system", "source", "system_id"} {
			if s, ok := m[k].(string); ok && s != "" {
				return s
			}
		}
	}
	return ""
}

func graphTime(props, meta map[string]any, key string) any {
	for _, m := range []map[string]any{props, meta} {
		if v, ok := m[key]; ok {
			return v
		}
	}
	return time.Now().UTC().Format(time.RFC3339Nano)
}

func (f *Function) toolCreateEntity(r *http.Request, args json.RawMessage) (map[string]any, error) {
	var a struct {
		Name         string          `json:"name"`
		EntityType   string          `json:"entity_type"`
		Observations []string        `json:"observations"`
		Properties   map[string]any  `json:"properties"`
		Metadata     map[string]any  `json:"metadata"`
		Embedding    json.RawMessage `json:"embedding"`
	}
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, fmt.Errorf("create_entity arguments: %w", err)
	}
	sys := graphSystem(a.Properties, a.Metadata)
	rec := map[string]any{
		"system_id": sys, "id": graphID(a.Properties, sys, a.Name, a.EntityType), "name": a.Name,
		"entity_type": a.EntityType, "observations": a.Observations, "properties": nonNil(a.Properties),
		"created_at": graphTime(a.Properties, a.Metadata, "created_at"),
		"updated_at": graphTime(a.Properties, a.Metadata, "updated_at"),
	}
	if len(a.Embedding) > 0 && string(a.Embedding) != "null" {
		rec["embedding"] = a.Embedding
	}
	return f.storeGraph(r, schemas.TableEntities, rec)
}

func (f *Function) toolCreateRelation(r *http.Request, args json.RawMessage) (map[string]any, error) {
	var a struct {
		From       string         `json:"from_entity"`
		To         string         `json:"to_entity"`
		Type       string         `json:"relation_type"`
		Properties map[string]any `json:"properties"`
		Metadata   map[string]any `json:"metadata"`
	}
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, fmt.Errorf("create_relation arguments: %w", err)
	}
	sys := graphSystem(a.Properties, a.Metadata)
	rec := map[string]any{
		"system_id": sys, "id": graphID(a.Properties, sys, a.From, a.Type, a.To),
		"from_entity": a.From, "to_entity": a.To, "relation_type": a.Type, "properties": nonNil(a.Properties),
		"created_at": graphTime(a.Properties, a.Metadata, "created_at"),
	}
	return f.storeGraph(r, schemas.TableRelations, rec)
}

func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func (f *Function) storeGraph(r *http.Request, table string, rec map[string]any) (map[string]any, error) {
	raw, _ := json.Marshal(rec)
	batch := schemas.Batch{Records: [][]byte{raw}}
	txn, err := idempotencyTxn(r, raw)
	if err != nil {
		return nil, err
	}
	var resp Response
	switch table {
	case schemas.TableEntities:
		recs, errs, err := decodeRecords[schemas.Entity](batch, entityKey, time.Now(), 1)
		if err == nil {
			err = checkSystems(r, recs, entityKey)
		}
		if err != nil {
			return nil, err
		}
		resp, _, err = store(r, f, table, f.entities, recs, errs, 1, txn)
		if err != nil {
			return nil, err
		}
	default:
		recs, errs, err := decodeRecords[schemas.Relation](batch, relationKey, time.Now(), 1)
		if err == nil {
			err = checkSystems(r, recs, relationKey)
		}
		if err != nil {
			return nil, err
		}
		resp, _, err = store(r, f, table, f.relations, recs, errs, 1, txn)
		if err != nil {
			return nil, err
		}
	}
	if resp.Stored == 0 {
		return nil, recordFailure(resp)
	}
	return map[string]any{"id": rec["id"], "status": "created", "version": resp.Version}, nil
}
