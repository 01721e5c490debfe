package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
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
		"delete_memory":        f.toolDeleteMemory,
		"forget":               f.toolForget,
	}
	all := append(slices.Clone(ingestTools), deleteTools...)
	tools := make([]mcp.Tool, len(all))
	for i, t := range all {
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
	"expires_at": "expires_at", "ttl": "ttl", // issue 16: a memory's expiry
}

// toRecord maps Session-Buddy's arguments onto a memory record's JSON.
// Metadata keys that are record fields become fields; the rest stay in
// metadata. An unknown type is kept in metadata and the kind defaults.
//
// This is the one Session-Buddy mapping (README, "Connect Session-Buddy");
// the import job's toConversation and toReflection give the same rows:
//   - a value that is null, "" or [] is absent: Session-Buddy sends None for
//     a NULL column (store_reflection keeps it, batch_store_memories drops it)
//     and [] for NULL tags, and a known field sent as null must not come
//     back as metadata.<field>: null;
//   - importance_score is read back from Session-Buddy's REAL column, so
//     0.9 arrives as 0.8999999761581421: a value that is exactly a float32
//     is stored as that float32's shortest decimal (0.9), as import reads it.
func (m sbMemory) toRecord(kind string) json.RawMessage {
	rec := map[string]any{"id": m.MemoryID, "content": m.Text}
	if len(m.Embedding) > 0 && string(m.Embedding) != "null" {
		rec["embedding"] = m.Embedding
	}
	rest := map[string]any{}
	for k, v := range m.Metadata {
		if absent(v) {
			continue
		}
		field, ok := memoryFields[k]
		switch {
		case !ok:
			rest[k] = v
		case field == "kind":
			if s, _ := v.(string); s == schemas.KindConversation || s == schemas.KindReflection || s == schemas.KindMemory {
				rec["kind"] = s
			} else {
				rest[k] = v
			}
		case field == "importance":
			rec[field] = shortestFloat32(v)
		default:
			rec[field] = v
		}
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

// absent says whether a Session-Buddy value means "no value".
func absent(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// shortestFloat32 undoes a float32 read widened to float64: a number that is
// exactly a float32 becomes the shortest decimal of that float32. Others
// (0.9 as a float64 is not a float32) are kept as they are.
func shortestFloat32(v any) any {
	f, ok := v.(float64)
	if !ok || float64(float32(f)) != f {
		return v
	}
	g, err := strconv.ParseFloat(strconv.FormatFloat(f, 'g', -1, 32), 64)
	if err != nil {
		return v
	}
	return g
}

func (f *Function) storeMemories(r *http.Request, raws [][]byte) (Response, error) {
	recs, errs, err := decodeRecords[schemas.Memory](schemas.Batch{Records: raws}, memoryKey, time.Now(), f.cfg.MaxRecords)
	if err != nil {
		return Response{}, err
	}
	if err := checkSystems(r, f, recs, memoryKey); err != nil {
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

// batchAnswer is batch_store_memories' answer. When no record was stored it
// carries a top-level error listing each record's: Session-Buddy logs
// result["error"] for a failed batch and "Unknown error" without it.
func batchAnswer(resp Response) map[string]any {
	a := map[string]any{
		"status": resp.Status, "total": resp.Total, "stored": resp.Stored, "failed": resp.Failed,
		"errors": resp.Errors, "stored_at": time.Now().UTC().Format(time.RFC3339Nano), "version": resp.Version,
	}
	if resp.Stored == 0 && len(resp.Errors) > 0 {
		a["error"] = recordErrors(resp.Errors)
	}
	return a
}

// recordErrors is one message naming every failed record.
func recordErrors(errs []recordError) string {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = fmt.Sprintf("record %d (id %q): %s", e.Index, e.ID, e.Error)
	}
	return fmt.Sprintf("no record stored: %s", strings.Join(msgs, "; "))
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

// graphTime is a timestamp Session-Buddy put in properties (or metadata);
// nil when it sent none.
func graphTime(props, meta map[string]any, key string) any {
	for _, m := range []map[string]any{props, meta} {
		if v, ok := m[key]; ok && !absent(v) {
			return v
		}
	}
	return nil
}

// graphFields are the property keys create_entity and create_relation turn
// into fields of the record; they do not stay in properties.
var graphFields = []string{"source_system", "original_id", "created_at", "updated_at"}

// graphProperties is a graph record's properties: Session-Buddy's properties
// without the keys that became fields and without absent values, and its
// metadata, when it sent any, under "metadata" (the import job's mapping of
// kg_entities and kg_relationships, whose rows have both columns).
func graphProperties(props, meta map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range props {
		if !absent(v) && !slices.Contains(graphFields, k) {
			out[k] = v
		}
	}
	if _, taken := out["metadata"]; !taken && !absent(meta) {
		out["metadata"] = meta
	}
	return out
}

// graphRecord is the fields every graph record shares. created_at defaults
// to now; updated_at, which Session-Buddy's push does not send, to
// created_at (left out, so the record's own default applies).
func graphRecord(props, meta map[string]any, idParts ...string) map[string]any {
	sys := graphSystem(props, meta)
	rec := map[string]any{
		"system_id": sys, "id": graphID(props, append([]string{sys}, idParts...)...),
		"properties": graphProperties(props, meta),
	}
	rec["created_at"] = graphTime(props, meta, "created_at")
	if rec["created_at"] == nil {
		rec["created_at"] = time.Now().UTC().Format(time.RFC3339Nano)
	}
	if t := graphTime(props, meta, "updated_at"); t != nil {
		rec["updated_at"] = t
	}
	return rec
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
	rec := graphRecord(a.Properties, a.Metadata, a.Name, a.EntityType)
	rec["name"], rec["entity_type"], rec["observations"] = a.Name, a.EntityType, a.Observations
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
	rec := graphRecord(a.Properties, a.Metadata, a.From, a.Type, a.To)
	delete(rec, "updated_at") // relations have no updated_at
	rec["from_entity"], rec["to_entity"], rec["relation_type"] = a.From, a.To, a.Type
	return f.storeGraph(r, schemas.TableRelations, rec)
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
			err = checkSystems(r, f, recs, entityKey)
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
			err = checkSystems(r, f, recs, relationKey)
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
