package ingest

import "github.com/akosha/akosha/internal/mcp"

// ingestTools describe the tools Session-Buddy calls, with the arguments it
// sends; MCPTools attaches their handlers.
var ingestTools = []mcp.Tool{
	tool("store_memory", "Store one memory (conversation, reflection or memory) of a Session-Buddy system.",
		obj(map[string]any{
			"memory_id": str("id of the memory in its system"),
			"text":      str("content"),
			"embedding": vec(),
			"metadata":  meta("source (system id), original_id, type, created_at, importance_score, project, tags, ... ; other keys are kept"),
		}, "memory_id", "text", "metadata")),
	tool("batch_store_memories", "Store many memories in one commit.",
		obj(map[string]any{
			"memories": map[string]any{"type": "array", "items": obj(map[string]any{
				"memory_id": str("id"), "text": str("content"), "embedding": vec(), "metadata": meta("as for store_memory"),
			}, "memory_id", "text")},
		}, "memories")),
	tool("store_reflection", "Store a reflection.",
		obj(map[string]any{
			"reflection_id": str("id"),
			"content":       str("content"),
			"embedding":     vec(),
			"metadata":      meta("source (system id), tags, related_entities, created_at"),
		}, "reflection_id", "content", "metadata")),
	tool("create_entity", "Create or replace a knowledge graph entity.",
		obj(map[string]any{
			"name":         str("entity name"),
			"entity_type":  str("type"),
			"observations": map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
			"properties":   meta("source_system (system id), original_id, ..."),
			"metadata":     meta("free-form"),
		}, "name", "entity_type", "properties")),
	tool("create_relation", "Create or replace a knowledge graph relation.",
		obj(map[string]any{
			"from_entity":   str("source entity"),
			"to_entity":     str("target entity"),
			"relation_type": str("type"),
			"properties":    meta("source_system (system id), original_id, ..."),
			"metadata":      meta("free-form"),
		}, "from_entity", "to_entity", "relation_type", "properties")),
}

func tool(name, desc string, schema map[string]any) mcp.Tool {
	return mcp.Tool{Name: name, Description: desc, InputSchema: schema}
}

func obj(props map[string]any, required ...string) map[string]any {
	return map[string]any{"type": "object", "properties": props, "required": required}
}

func str(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }

func meta(desc string) map[string]any { return map[string]any{"type": "object", "description": desc} }

func vec() map[string]any {
	return map[string]any{"type": "array", "items": map[string]any{"type": "number"}, "description": "384 floats", "minItems": 384, "maxItems": 384}
}
