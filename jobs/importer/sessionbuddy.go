package importer

import (
	"fmt"
	"strings"
	"time"

	"github.com/akosha/akosha/schemas"
)

// This file is the mapping from Session-Buddy's tables to Akosha's records.
// The layouts are Session-Buddy's own DDL (see the package documentation for
// the sources): conversations_v2 and reflections_v2 in reflection.duckdb,
// kg_entities and kg_relationships in knowledge_graph.duckdb.
//
// Session-Buddy adds columns over time with ALTER TABLE ... ADD COLUMN IF NOT
// EXISTS, so an upload from an older install may lack some. Every column but
// the required ones is therefore optional: a missing one reads as NULL.

// kind is how a column is read: its SQL cast and its Go accessor.
type kind int

const (
	kText      kind = iota // VARCHAR, NULL when larger than max bytes
	kFloat                 // DOUBLE
	kInt                   // BIGINT
	kTime                  // TIMESTAMP (read as UTC), TIMESTAMPTZ, DATE or ISO 8601 text
	kTextList              // VARCHAR[], NULL when its text is larger than max bytes
	kFloatList             // FLOAT[], NULL when longer than max elements
)

type column struct {
	name string
	kind kind
	max  int64 // size guard of text and list kinds
}

// Size guards. A value over its guard is not read into memory; the row is
// reported invalid instead. They are at or above what the record schema
// accepts, so only rows that Validate would refuse anyway are cut short.
const (
	maxIDBytes    = 4 * schemas.MaxIDLen
	maxLabelBytes = 4 * schemas.MaxNameLen
	maxTimeBytes  = 64
	maxTagsBytes  = 4*schemas.MaxTags*schemas.MaxTagLen + 4*schemas.MaxTags
	maxObsBytes   = schemas.MaxObservations*schemas.MaxObservationLen + 4*schemas.MaxObservations
)

func text(name string) column   { return column{name, kText, maxLabelBytes} }
func object(name string) column { return column{name, kText, schemas.MaxObjectBytes} }
func stamp(name string) column  { return column{name, kTime, maxTimeBytes} }

var (
	idColumn        = column{"id", kText, maxIDBytes}
	contentColumn   = column{"content", kText, schemas.MaxContentBytes}
	embeddingColumn = column{"embedding", kFloatList, schemas.EmbeddingDim}
)

// tableSpec is one Session-Buddy table: where it is, what it holds and which
// lake table its rows go to. Exactly one of memory, entity and relation is
// set.
type tableSpec struct {
	name     string // in Session-Buddy's database
	file     string // ReflectionDB or KnowledgeGraphDB
	lake     string // schemas.Table*
	required []string
	columns  []column

	memory   func(*row, *Manifest) schemas.Memory
	entity   func(*row, *Manifest) schemas.Entity
	relation func(*row, *Manifest) schemas.Relation

	index map[string]int // column name -> position in columns
}

// Source tables in import order. conversations_v2 comes before
// reflections_v2 and entities before relations only for readable logs; the
// lake does not care.
var sourceTables = []*tableSpec{
	{
		// schema_v2.py SCHEMA_V2_SQL, plus fingerprint BLOB, which the
		// reflection adapter writes (skipped: a local dedupe signature).
		name: "conversations_v2", file: ReflectionDB, lake: schemas.TableMemories,
		required: []string{"id", "content"},
		columns: []column{
			idColumn, contentColumn, embeddingColumn,
			text("category"), text("subcategory"), {"importance_score", kFloat, 0},
			text("memory_tier"), {"access_count", kInt, 0}, stamp("last_accessed"),
			text("project"), text("namespace"), stamp("timestamp"), text("session_id"), text("user_id"),
			{"searchable_content", kText, schemas.MaxContentBytes}, object("reasoning"),
			object("metadata"), text("source_type"), text("turn_parent_id"), text("causal_parent_id"),
		},
		memory: toConversation,
	},
	{
		// schema_v2.py SCHEMA_V2_SQL with its legacy-compatibility columns.
		name: "reflections_v2", file: ReflectionDB, lake: schemas.TableMemories,
		required: []string{"id", "content"},
		columns: []column{
			idColumn, contentColumn, embeddingColumn,
			text("category"), text("subcategory"), {"importance_score", kFloat, 0}, text("memory_tier"),
			{"tags", kTextList, maxTagsBytes}, {"related_entities", kTextList, schemas.MaxObjectBytes},
			stamp("timestamp"), text("project"), text("namespace"),
			{"access_count", kInt, 0}, stamp("last_accessed"),
			stamp("created_at"), stamp("updated_at"), text("insight_type"), {"usage_count", kInt, 0},
			stamp("last_used_at"), {"confidence_score", kFloat, 0}, object("metadata"),
		},
		memory: toReflection,
	},
	{
		// knowledge_graph_adapter_oneiric.py _create_schema.
		name: "kg_entities", file: KnowledgeGraphDB, lake: schemas.TableEntities,
		required: []string{"id", "name", "entity_type"},
		columns: []column{
			idColumn, text("name"), text("entity_type"), {"observations", kTextList, maxObsBytes},
			object("properties"), stamp("created_at"), stamp("updated_at"), object("metadata"),
			embeddingColumn,
		},
		entity: toEntity,
	},
	{
		name: "kg_relationships", file: KnowledgeGraphDB, lake: schemas.TableRelations,
		required: []string{"id", "from_entity", "to_entity", "relation_type"},
		columns: []column{
			idColumn, text("from_entity"), text("to_entity"), text("relation_type"),
			object("properties"), stamp("created_at"), stamp("updated_at"), object("metadata"),
		},
		relation: toRelation,
	},
}

func init() {
	for _, t := range sourceTables {
		t.index = make(map[string]int, len(t.columns))
		for i, c := range t.columns {
			t.index[c.name] = i
		}
	}
}

// selectSQL reads the table from the attached database alias, two values per
// column: the value (NULL when over its guard) and its size, so that an
// oversized value is reported without being read. present holds the data
// types of the columns the table has; the others read as NULL. No ORDER BY:
// storage order is deterministic for an immutable file and sorting would
// cost a spill of the whole table (see openSource).
func (t *tableSpec) selectSQL(alias string, present map[string]string) string {
	exprs := make([]string, 0, 2*len(t.columns))
	for _, c := range t.columns {
		typ, ok := present[c.name]
		if !ok {
			exprs = append(exprs, "NULL", "NULL")
			continue
		}
		exprs = append(exprs, c.sql(typ)...)
	}
	return fmt.Sprintf("SELECT %s FROM %s.main.%s", strings.Join(exprs, ", "), alias, quoteIdent(t.name))
}

func (c column) sql(typ string) []string {
	id := quoteIdent(c.name)
	guard := func(val, size string) []string {
		return []string{fmt.Sprintf("CASE WHEN %s <= %d THEN %s END", size, c.max, val), size}
	}
	switch c.kind {
	case kText:
		v := "TRY_CAST(" + id + " AS VARCHAR)"
		return guard(v, "strlen("+v+")")
	case kFloat:
		if typ == "FLOAT" {
			// Through text, so that a REAL 0.7 arrives as 0.7 and not as
			// 0.699999988079071, its exact float32 value.
			return []string{"TRY_CAST(TRY_CAST(" + id + " AS VARCHAR) AS DOUBLE)", "NULL"}
		}
		return []string{"TRY_CAST(" + id + " AS DOUBLE)", "NULL"}
	case kInt:
		return []string{"TRY_CAST(" + id + " AS BIGINT)", "NULL"}
	case kTime:
		switch {
		case strings.HasPrefix(typ, "TIMESTAMP") || typ == "DATE":
			return []string{id, "NULL"}
		case typ == "VARCHAR":
			return guard(id, "strlen("+id+")")
		}
		return []string{"TRY_CAST(" + id + " AS TIMESTAMP)", "NULL"}
	case kTextList:
		return guard("TRY_CAST("+id+" AS VARCHAR[])", "strlen(TRY_CAST("+id+" AS VARCHAR))")
	case kFloatList:
		v := "TRY_CAST(" + id + " AS FLOAT[])"
		return guard(v, "len("+v+")")
	}
	return []string{"NULL", "NULL"}
}

// provenance says where a record came from, as the push path's
// "ingestion_method": "http_push" does.
func provenance(o obj, m *Manifest) {
	o.add("ingestion_method", "s3_import")
	o.add("upload_id", m.UploadID)
}

func firstTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

func toConversation(r *row, m *Manifest) schemas.Memory {
	rec := schemas.Memory{
		SystemID:    m.SystemID,
		ID:          r.text("id"),
		Kind:        schemas.KindConversation,
		Content:     r.text("content"),
		Embedding:   r.floats("embedding"),
		CreatedAt:   r.time("timestamp"),
		Project:     r.text("project"),
		Namespace:   r.text("namespace"),
		SessionID:   r.text("session_id"),
		UserID:      r.text("user_id"),
		Category:    r.text("category"),
		Subcategory: r.text("subcategory"),
		Importance:  r.float("importance_score"),
		SourceType:  r.text("source_type"),
	}
	meta := r.object("metadata")
	meta.add("memory_tier", r.text("memory_tier"))
	meta.add("access_count", r.int("access_count"))
	meta.add("last_accessed", r.time("last_accessed"))
	meta.add("reasoning", r.text("reasoning"))
	// searchable_content is normally a copy of content for full-text search;
	// kept only when it says something else.
	if s := r.text("searchable_content"); s != rec.Content {
		meta.add("searchable_content", s)
	}
	meta.add("turn_parent_id", r.text("turn_parent_id"))
	meta.add("causal_parent_id", r.text("causal_parent_id"))
	provenance(meta, m)
	rec.Metadata = meta.raw(r, "metadata")
	return rec
}

func toReflection(r *row, m *Manifest) schemas.Memory {
	rec := schemas.Memory{
		SystemID:  m.SystemID,
		ID:        r.text("id"),
		Kind:      schemas.KindReflection,
		Content:   r.text("content"),
		Embedding: r.floats("embedding"),
		// timestamp is the v2 column; created_at the legacy one, written
		// alongside it.
		CreatedAt:   firstTime(r.time("timestamp"), r.time("created_at")),
		Project:     r.text("project"),
		Namespace:   r.text("namespace"),
		Category:    r.text("category"),
		Subcategory: r.text("subcategory"),
		Tags:        r.texts("tags"),
		Importance:  r.float("importance_score"),
	}
	meta := r.object("metadata")
	meta.add("memory_tier", r.text("memory_tier"))
	meta.add("related_entities", r.texts("related_entities"))
	meta.add("access_count", r.int("access_count"))
	meta.add("last_accessed", r.time("last_accessed"))
	meta.add("updated_at", r.time("updated_at"))
	meta.add("insight_type", r.text("insight_type"))
	meta.add("usage_count", r.int("usage_count"))
	meta.add("last_used_at", r.time("last_used_at"))
	meta.add("confidence_score", r.float("confidence_score"))
	provenance(meta, m)
	rec.Metadata = meta.raw(r, "metadata")
	return rec
}

// graphProperties merges a knowledge-graph row's properties and metadata
// (the lake's entities and relations have properties only): metadata goes
// under "metadata" unless the properties already use that key.
func graphProperties(r *row, m *Manifest) obj {
	props := r.object("properties")
	props.add("metadata", r.object("metadata"))
	provenance(props, m)
	return props
}

func toEntity(r *row, m *Manifest) schemas.Entity {
	created, updated := r.time("created_at"), r.time("updated_at")
	rec := schemas.Entity{
		SystemID:     m.SystemID,
		ID:           r.text("id"),
		Name:         r.text("name"),
		EntityType:   r.text("entity_type"),
		Observations: r.texts("observations"),
		CreatedAt:    firstTime(created, updated),
		UpdatedAt:    updated,
		Embedding:    r.floats("embedding"),
	}
	rec.Properties = graphProperties(r, m).raw(r, "properties")
	return rec
}

// toRelation keeps from_entity and to_entity as Session-Buddy stored them:
// since its create_relation resolves names to ids, they are the ids of
// kg_entities rows, which are the ids of the lake's entities.
func toRelation(r *row, m *Manifest) schemas.Relation {
	created, updated := r.time("created_at"), r.time("updated_at")
	rec := schemas.Relation{
		SystemID:     m.SystemID,
		ID:           r.text("id"),
		FromEntity:   r.text("from_entity"),
		ToEntity:     r.text("to_entity"),
		RelationType: r.text("relation_type"),
		CreatedAt:    firstTime(created, updated),
	}
	props := graphProperties(r, m)
	if !updated.Equal(rec.CreatedAt) {
		props.add("updated_at", updated)
	}
	rec.Properties = props.raw(r, "properties")
	return rec
}
