package importer

import (
	"fmt"
	"slices"
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
		// schema_v2.py SCHEMA_V2_SQL: the columns HttpSyncMethod's
		// _fetch_conversations reads and pushes.
		name: "conversations_v2", file: ReflectionDB, lake: schemas.TableMemories,
		required: []string{"id", "content"},
		columns: []column{
			idColumn, contentColumn, embeddingColumn,
			text("category"), text("subcategory"), {"importance_score", kFloat, 0},
			text("memory_tier"), text("project"), text("namespace"), stamp("timestamp"),
			text("session_id"), text("user_id"), object("reasoning"), text("source_type"),
		},
		memory: toConversation,
	},
	{
		// schema_v2.py SCHEMA_V2_SQL: the columns _fetch_reflections pushes,
		// and the legacy created_at when timestamp is NULL.
		name: "reflections_v2", file: ReflectionDB, lake: schemas.TableMemories,
		required: []string{"id", "content"},
		columns: []column{
			idColumn, contentColumn, embeddingColumn,
			text("category"), {"importance_score", kFloat, 0}, text("memory_tier"),
			{"tags", kTextList, maxTagsBytes}, {"related_entities", kTextList, schemas.MaxObjectBytes},
			stamp("timestamp"), text("project"), text("namespace"), stamp("created_at"),
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

// The mapping below is the one Session-Buddy's own push makes
// (storage/akosha_sync.py, HttpSyncMethod._serialize_*), so that a record
// pushed over MCP and the same record imported from an upload are equal
// rows (README, "Connect Session-Buddy"; ingest's toRecord is the push
// side). Only the columns the push sends are mapped: the local bookkeeping
// it leaves out (access_count, last_accessed, searchable_content, the
// tables' own metadata column, ...) is left out here too. An empty value
// (NULL, "", []) is absent. The only difference is the truthful
// metadata.ingestion_method: "http_push" there, "s3_import" here.

// provenance says where a record came from, as the push path's
// "ingestion_method": "http_push" does.
func provenance(o obj) {
	o.add("ingestion_method", "s3_import")
}

func firstTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// pushText is a conversation's content as the push builds it: reasoning,
// when there is any, appended after a blank line as "Reasoning: ...".
func pushText(content, reasoning string) string {
	if reasoning == "" {
		return content
	}
	if content == "" {
		return "Reasoning: " + reasoning
	}
	return content + "\n\nReasoning: " + reasoning
}

func nilIfNone(list []string) []string {
	if len(list) == 0 {
		return nil
	}
	return list
}

func toConversation(r *row, m *Manifest) schemas.Memory {
	rec := schemas.Memory{
		SystemID:    m.SystemID,
		ID:          r.text("id"),
		Kind:        schemas.KindConversation,
		Content:     pushText(r.text("content"), r.text("reasoning")),
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
	meta := obj{}
	meta.add("memory_tier", r.text("memory_tier"))
	provenance(meta)
	rec.Metadata = meta.raw(r, "metadata")
	return rec
}

// toReflection: the push sends no subcategory, session_id, user_id or
// source_type for a reflection.
func toReflection(r *row, m *Manifest) schemas.Memory {
	rec := schemas.Memory{
		SystemID:  m.SystemID,
		ID:        r.text("id"),
		Kind:      schemas.KindReflection,
		Content:   r.text("content"),
		Embedding: r.floats("embedding"),
		// timestamp is the v2 column; created_at the legacy one, written
		// alongside it.
		CreatedAt:  firstTime(r.time("timestamp"), r.time("created_at")),
		Project:    r.text("project"),
		Namespace:  r.text("namespace"),
		Category:   r.text("category"),
		Tags:       nilIfNone(r.texts("tags")),
		Importance: r.float("importance_score"),
	}
	meta := obj{}
	meta.add("memory_tier", r.text("memory_tier"))
	meta.add("related_entities", r.texts("related_entities"))
	provenance(meta)
	rec.Metadata = meta.raw(r, "metadata")
	return rec
}

// graphProperties is a knowledge-graph row's properties as create_entity and
// create_relation store them: the row's properties without empty values and
// without the keys the push turns into fields, and the row's metadata under
// "metadata" unless the properties already use that key.
func graphProperties(r *row) obj {
	props := obj{}
	for k, v := range r.object("properties") {
		if !slices.Contains(pushedAsFields, k) {
			props.add(k, v)
		}
	}
	props.add("metadata", r.object("metadata"))
	provenance(props)
	return props
}

// pushedAsFields are the property keys the push sets from the row
// (source_system, original_id, created_at) and ingest turns into fields.
var pushedAsFields = []string{"source_system", "original_id", "created_at", "updated_at"}

// toEntity: the push sends neither updated_at nor the embedding; import
// keeps both (README says so), everything else is the push's.
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
	rec.Properties = graphProperties(r).raw(r, "properties")
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
	rec.Properties = graphProperties(r).raw(r, "properties")
	return rec
}
