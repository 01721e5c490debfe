package schemas

import (
	"encoding/json"
	"fmt"
	"time"
)

// The Parquet row types below describe the data files of the three Delta
// tables. They are written for the widest set of readers (DuckDB, Spark,
// delta-rs/Polars, Trino): strings are UTF8 byte arrays with PLAIN or
// dictionary encoding (not DELTA_LENGTH_BYTE_ARRAY, which older Spark
// vectorized readers refuse), timestamps are INT64 TIMESTAMP(MICROS, UTC) as
// Delta's "timestamp" type requires, lists are standard 3-level LISTs, and
// JSON objects are UTF8 strings (DuckDB's JSON functions take them as they
// are; the JSON logical type would surprise Spark and Delta's schema).
//
// The embedding is a LIST of FLOAT with PLAIN encoding. BYTE_STREAM_SPLIT
// (parquet-go's "split" tag in parquet-element, which it accepts on list
// elements) would make zstd-compressed embeddings 13% smaller (20,000 unit
// vectors: 30.9 MB plain, 26.8 MB split; zstd gains nothing on plain floats),
// but Spark's vectorized Parquet reader, which Spark also uses for nested
// columns, does not implement that encoding, so it is not used.
//
// ingested_at is when the lake writer staged the row. It orders versions of
// one (system_id, id): a re-sent record replaces the one with the older
// ingested_at, and compaction keeps it per row, so "latest wins" holds before
// and after files are merged.
//
// system_id is a column of every file, the first one: the lake is
// partitioned by tier and day only (a fleet has thousands of systems, and a
// partition per system and day makes tiny files every engine pays for).
// Files are sorted by (system_id, created_at) and their add actions carry
// min/max system_id statistics, so one system's rows are found by
// statistics and row-group bounds, not by path. The partition columns (tier,
// day) are not in the files: by the Delta convention they come from the add
// action's partitionValues (and the path).

// Table names, as in <root>/<table>/.
const (
	TableMemories  = "memories"
	TableEntities  = "entities"
	TableRelations = "relations"
)

// Tier values of the tier partition column.
const (
	TierHot  = "hot"
	TierWarm = "warm"
	TierCold = "cold"
)

// PartitionColumns are the Delta partition columns of every table, in path
// order: <table>/tier=.../day=YYYY-MM-DD/.
var PartitionColumns = []string{"tier", "day"}

// MemoryRow is a row of a memories data file.
type MemoryRow struct {
	SystemID    string    `parquet:"system_id,dict"`
	ID          string    `parquet:"id,plain"`
	Kind        string    `parquet:"kind,dict"`
	Content     string    `parquet:"content,plain"`
	Embedding   []float32 `parquet:"embedding,optional,list,uncompressed"` // null when absent
	CreatedAt   time.Time `parquet:"created_at,timestamp(microsecond)"`
	Project     *string   `parquet:"project,optional,dict"` // optional strings: nil is null (optString)
	Namespace   *string   `parquet:"namespace,optional,dict"`
	SessionID   *string   `parquet:"session_id,optional,dict"`
	UserID      *string   `parquet:"user_id,optional,dict"`
	Category    *string   `parquet:"category,optional,dict"`
	Subcategory *string   `parquet:"subcategory,optional,dict"`
	Tags        []string  `parquet:"tags,optional,list" parquet-element:",dict"`
	Importance  *float64  `parquet:"importance,optional"`
	SourceType  *string   `parquet:"source_type,optional,dict"`
	Metadata    *string   `parquet:"metadata,optional,plain"` // JSON object text
	IngestedAt  time.Time `parquet:"ingested_at,timestamp(microsecond)"`
	// ExpiresAt is the record's expiry (issue 16); null: never. The last
	// column: files written before it lack it, and every reader takes a
	// missing column as null (sqlexec's views, parquet-go's row reads).
	ExpiresAt *time.Time `parquet:"expires_at,optional,timestamp(microsecond)"`
}

// Row returns m as a data file row. It shares m's Embedding and Tags slices,
// since rows are written, not modified. Kind and CreatedAt get their
// normalized form even if m was not normalized.
func (m *Memory) Row() MemoryRow {
	kind := m.Kind
	if kind == "" {
		kind = KindMemory
	}
	return MemoryRow{
		SystemID:    m.SystemID,
		ID:          m.ID,
		Kind:        kind,
		Content:     m.Content,
		Embedding:   nilIfEmpty(m.Embedding),
		CreatedAt:   normalizeTime(m.CreatedAt),
		Project:     optString(m.Project),
		Namespace:   optString(m.Namespace),
		SessionID:   optString(m.SessionID),
		UserID:      optString(m.UserID),
		Category:    optString(m.Category),
		Subcategory: optString(m.Subcategory),
		Tags:        m.Tags,
		Importance:  copyPtr(m.Importance),
		SourceType:  optString(m.SourceType),
		Metadata:    optString(objectString(m.Metadata)),
		ExpiresAt:   normalizedPtr(m.ExpiresAt),
	}
}

// normalizedPtr is an optional timestamp in its stored form.
func normalizedPtr(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	v := normalizeTime(*t)
	return &v
}

// Memory returns the record of row r. It shares r's slices.
func (r *MemoryRow) Memory() Memory {
	return Memory{
		SystemID:    r.SystemID,
		ID:          r.ID,
		Kind:        r.Kind,
		Content:     r.Content,
		Embedding:   nilIfEmpty(r.Embedding),
		CreatedAt:   r.CreatedAt.UTC(),
		Project:     deref(r.Project),
		Namespace:   deref(r.Namespace),
		SessionID:   deref(r.SessionID),
		UserID:      deref(r.UserID),
		Category:    deref(r.Category),
		Subcategory: deref(r.Subcategory),
		Tags:        r.Tags,
		Importance:  copyPtr(r.Importance),
		SourceType:  deref(r.SourceType),
		Metadata:    objectRaw(deref(r.Metadata)),
		ExpiresAt:   utcPtr(r.ExpiresAt),
	}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

// EntityRow is a row of an entities data file.
type EntityRow struct {
	SystemID     string    `parquet:"system_id,dict"`
	ID           string    `parquet:"id,plain"`
	Name         string    `parquet:"name,plain"`
	EntityType   string    `parquet:"entity_type,dict"`
	Observations []string  `parquet:"observations,optional,list" parquet-element:",plain"`
	Properties   *string   `parquet:"properties,optional,plain"` // JSON object text
	CreatedAt    time.Time `parquet:"created_at,timestamp(microsecond)"`
	UpdatedAt    time.Time `parquet:"updated_at,timestamp(microsecond)"`
	Embedding    []float32 `parquet:"embedding,optional,list,uncompressed"`
	IngestedAt   time.Time `parquet:"ingested_at,timestamp(microsecond)"`
}

// Row returns e as a data file row, sharing e's slices. UpdatedAt defaults
// to CreatedAt.
func (e *Entity) Row() EntityRow {
	updated := e.UpdatedAt
	if updated.IsZero() {
		updated = e.CreatedAt
	}
	return EntityRow{
		SystemID:     e.SystemID,
		ID:           e.ID,
		Name:         e.Name,
		EntityType:   e.EntityType,
		Observations: e.Observations,
		Properties:   optString(objectString(e.Properties)),
		CreatedAt:    normalizeTime(e.CreatedAt),
		UpdatedAt:    normalizeTime(updated),
		Embedding:    nilIfEmpty(e.Embedding),
	}
}

// Entity returns the record of row r, sharing r's slices.
func (r *EntityRow) Entity() Entity {
	return Entity{
		SystemID:     r.SystemID,
		ID:           r.ID,
		Name:         r.Name,
		EntityType:   r.EntityType,
		Observations: r.Observations,
		Properties:   objectRaw(deref(r.Properties)),
		CreatedAt:    r.CreatedAt.UTC(),
		UpdatedAt:    r.UpdatedAt.UTC(),
		Embedding:    nilIfEmpty(r.Embedding),
	}
}

// RelationRow is a row of a relations data file.
type RelationRow struct {
	SystemID     string    `parquet:"system_id,dict"`
	ID           string    `parquet:"id,plain"`
	FromEntity   string    `parquet:"from_entity,plain"`
	ToEntity     string    `parquet:"to_entity,plain"`
	RelationType string    `parquet:"relation_type,dict"`
	Properties   *string   `parquet:"properties,optional,plain"` // JSON object text
	CreatedAt    time.Time `parquet:"created_at,timestamp(microsecond)"`
	IngestedAt   time.Time `parquet:"ingested_at,timestamp(microsecond)"`
}

// Row returns r as a data file row.
func (r *Relation) Row() RelationRow {
	return RelationRow{
		SystemID:     r.SystemID,
		ID:           r.ID,
		FromEntity:   r.FromEntity,
		ToEntity:     r.ToEntity,
		RelationType: r.RelationType,
		Properties:   optString(objectString(r.Properties)),
		CreatedAt:    normalizeTime(r.CreatedAt),
	}
}

// Relation returns the record of row r.
func (r *RelationRow) Relation() Relation {
	return Relation{
		SystemID:     r.SystemID,
		ID:           r.ID,
		FromEntity:   r.FromEntity,
		ToEntity:     r.ToEntity,
		RelationType: r.RelationType,
		Properties:   objectRaw(deref(r.Properties)),
		CreatedAt:    r.CreatedAt.UTC(),
	}
}

// objectString is the column value of a JSON object field: "" (null) when
// absent.
func objectString(raw json.RawMessage) string {
	if isNull(raw) {
		return ""
	}
	return string(raw)
}

// objectRaw is the inverse of objectString.
func objectRaw(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

// optString is an optional string column's value: nil (null) for "".
// The row types hold optional strings as pointers because parquet-go
// v0.32.0 writes a batch's zero strings after a non-empty one as ” instead
// of null (its bitmap walk in writeRowsFuncOfOptional), and upstream has
// flip-flopped on whether a value type's zero is null at all (PRs 480, 523);
// a nil pointer is null in every version.
func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// deref is the inverse of optString.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func nilIfEmpty(v []float32) []float32 {
	if len(v) == 0 {
		return nil
	}
	return v
}

func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// Delta Lake schemas. Every field is nullable, as Spark itself writes them:
// a non-nullable column makes writers enforce the invariant and has tripped
// delta-kernel (DuckDB's delta extension) on partition column statistics,
// while the Parquet files still mark the always-present columns REQUIRED.

// deltaField is a field of a Delta schemaString.
type deltaField struct {
	Name     string         `json:"name"`
	Type     any            `json:"type"` // a primitive type name or deltaArray
	Nullable bool           `json:"nullable"`
	Metadata map[string]any `json:"metadata"`
}

type deltaArray struct {
	Type         string `json:"type"` // "array"
	ElementType  string `json:"elementType"`
	ContainsNull bool   `json:"containsNull"`
}

type deltaStruct struct {
	Type   string       `json:"type"` // "struct"
	Fields []deltaField `json:"fields"`
}

func field(name string, typ any) deltaField {
	return deltaField{Name: name, Type: typ, Nullable: true, Metadata: map[string]any{}}
}

func arrayOf(elem string) deltaArray {
	return deltaArray{Type: "array", ElementType: elem, ContainsNull: false}
}

// partitionFields are the partition columns in schema form.
var partitionFields = []deltaField{
	field("tier", "string"),
	field("day", "date"),
}

// deltaSchemas holds the schemaString of each table, in the column order
// of the SQL views: the record's columns, then tier and day.
var deltaSchemas = map[string]string{
	TableMemories: deltaSchemaJSON(
		field("system_id", "string"),
		field("id", "string"),
		field("kind", "string"),
		field("content", "string"),
		field("embedding", arrayOf("float")),
		field("embedding_i8", arrayOf("byte")), // warm and cold files (QuantizedMemoryRow)
		field("embedding_scale", "float"),      // warm and cold files
		field("created_at", "timestamp"),
		field("project", "string"),
		field("namespace", "string"),
		field("session_id", "string"),
		field("user_id", "string"),
		field("category", "string"),
		field("subcategory", "string"),
		field("tags", arrayOf("string")),
		field("importance", "double"),
		field("source_type", "string"),
		field("metadata", "string"),
		field("ingested_at", "timestamp"),
		field("expires_at", "timestamp"), // issue 16; files before it lack the column
	),
	TableEntities: deltaSchemaJSON(
		field("system_id", "string"),
		field("id", "string"),
		field("name", "string"),
		field("entity_type", "string"),
		field("observations", arrayOf("string")),
		field("properties", "string"),
		field("created_at", "timestamp"),
		field("updated_at", "timestamp"),
		field("embedding", arrayOf("float")),
		field("ingested_at", "timestamp"),
	),
	TableRelations: deltaSchemaJSON(
		field("system_id", "string"),
		field("id", "string"),
		field("from_entity", "string"),
		field("to_entity", "string"),
		field("relation_type", "string"),
		field("properties", "string"),
		field("created_at", "timestamp"),
		field("ingested_at", "timestamp"),
	),
}

// deltaSchemaJSON builds a schemaString from the record fields and the
// partition columns.
func deltaSchemaJSON(fields ...deltaField) string {
	fields = append(fields, partitionFields...)
	b, err := json.Marshal(deltaStruct{Type: "struct", Fields: fields})
	if err != nil {
		// Only static values are marshaled here.
		panic(fmt.Sprintf("schemas: marshal Delta schema: %v", err))
	}
	return string(b)
}

// DeltaSchemaString returns the Delta metaData.schemaString of table
// (TableMemories, TableEntities or TableRelations): a struct of the record's
// columns and the partition columns tier (string) and day (date), with embedding as array<float>.
func DeltaSchemaString(table string) (string, error) {
	s, ok := deltaSchemas[table]
	if !ok {
		return "", fmt.Errorf("schemas: no table %q", table)
	}
	return s, nil
}
