package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/internal/mcp"
	"github.com/akosha/akosha/schemas"
)

// The MCP tools Session-Buddy calls, taking exactly its arguments (api/openapi.yaml, POST /mcp).
// Each maps its arguments onto the same records the REST endpoints take, so
// validation and commits are shared. internal/mcp serves them.

// MCPTools are the ingest function's tools (akosha serve merges them with
// the query function's behind one /mcp).
func (f *Function) MCPTools() []mcp.Tool {
	calls := map[string]func(*http.Request, json.RawMessage) (map[string]any, error){
		"store_memory":         f.toolStoreMemory,
		"batch_store_memories": f.toolBatchStoreMemories,
		"store_reflection":     f.toolStoreReflection,
		"create_entity":        f.toolCreateEntity,
		"create_relation":      f.toolCreateRelation,
	}
	tools := make([]mcp.Tool, len(ingestTools))
	for i, t := range ingestTools {
		tools[i] = t
		tools[i].Perm = auth.Write
		tools[i].Call = calls[t.Name]
	}
	return tools
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
