package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/format"
)

const rowsPerGroup = 100

// keptZstd is parquet-go's zstd codec with one encoder kept for the whole
// run, as the lake keeps its own (lake/zstdcodec.go). parquet-go pools its
// encoders in a sync.Pool, which every garbage collection empties: each of
// these tests' small files built an encoder's tables again, most of the
// package's CPU under -race.
type keptZstd struct {
	compress.Codec
	mu sync.Mutex
	e  *zstd.Encoder
}

var testZstd = &keptZstd{Codec: &parquet.Zstd}

func (c *keptZstd) Encode(dst, src []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.e == nil {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithZeroFrames(true))
		if err != nil {
			return nil, err
		}
		c.e = e
	}
	return c.e.EncodeAll(src, dst[:0]), nil
}

// writeRows writes rows as the lake does: zstd, bounded row groups.
func writeRows[T any](t *testing.T, rows []T) *parquet.File {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf,
		parquet.Compression(testZstd),
		parquet.MaxRowsPerRowGroup(rowsPerGroup),
	)
	if _, err := w.Write(rows); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if got, want := len(f.RowGroups()), (len(rows)+rowsPerGroup-1)/rowsPerGroup; got != want {
		t.Errorf("%d row groups, want %d", got, want)
	}
	return f
}

func readRows[T any](t *testing.T, f *parquet.File) []T {
	t.Helper()
	r := parquet.NewGenericReader[T](f)
	defer r.Close()
	rows := make([]T, f.NumRows())
	n, err := r.Read(rows)
	if err != nil && n != len(rows) {
		t.Fatalf("read: %d rows, %v", n, err)
	}
	return rows[:n]
}

// memoryVariants returns n valid, normalized memories that between them
// leave every optional field absent and present.
func memoryVariants(n int) []Memory {
	ms := make([]Memory, n)
	for i := range ms {
		m := sampleMemory()
		m.ID = fmt.Sprintf("mem_%d", i)
		m.Kind = []string{KindConversation, KindReflection, KindMemory}[i%3]
		m.Content = fmt.Sprintf("content %d: %s", i, strings.Repeat("ü", i%7))
		m.CreatedAt = m.CreatedAt.Add(time.Duration(i) * 1001 * time.Microsecond)
		m.Embedding = unitVector(uint64(i))
		if i%4 == 1 {
			m.Embedding = nil
		}
		if i%5 == 2 {
			m.Tags = nil
		}
		if i%5 == 3 {
			m.Tags = []string{}
		}
		if i%3 == 1 {
			m.Importance = nil
		}
		if i%6 == 4 {
			m.Metadata = nil
			m.Project, m.Namespace, m.SessionID, m.UserID = "", "", "", ""
			m.Category, m.Subcategory, m.SourceType = "", "", ""
		}
		m.Normalize()
		ms[i] = m
	}
	return ms
}

func TestMemoryParquetRoundTrip(t *testing.T) {
	ms := memoryVariants(1000)
	rows := make([]MemoryRow, len(ms))
	for i := range ms {
		rows[i] = ms[i].Row()
	}
	got := readRows[MemoryRow](t, writeRows(t, rows))
	if len(got) != len(ms) {
		t.Fatalf("read %d rows, want %d", len(got), len(ms))
	}
	for i := range got {
		m := got[i].Memory()
		if !reflect.DeepEqual(m, ms[i]) {
			t.Fatalf("row %d:\n%+v\nwant\n%+v", i, m, ms[i])
		}
	}
}

func TestMemoryRowDefaults(t *testing.T) {
	// Row fills in the stored form even for a record that was not normalized.
	m := Memory{ID: "x", Content: "c", CreatedAt: time.Date(2026, 1, 1, 1, 0, 0, 999, time.FixedZone("X", 3600)),
		Metadata: json.RawMessage("null"), Embedding: []float32{}}
	r := m.Row()
	if r.Kind != KindMemory || r.CreatedAt != time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) || r.Metadata != nil || r.Embedding != nil {
		t.Errorf("Row() = %+v", r)
	}
	// The row does not share Importance with the record.
	m.Importance = ptr(0.5)
	r = m.Row()
	*r.Importance = 1
	if *m.Importance != 0.5 {
		t.Errorf("Row() shares Importance")
	}
}

func TestEntityRelationParquetRoundTrip(t *testing.T) {
	es := make([]Entity, 250)
	for i := range es {
		e := sampleEntity()
		e.ID = fmt.Sprintf("ent_%d", i)
		if i%2 == 0 {
			e.Embedding, e.Observations, e.Properties = nil, nil, nil
		}
		e.Normalize()
		es[i] = e
	}
	erows := make([]EntityRow, len(es))
	for i := range es {
		erows[i] = es[i].Row()
	}
	for i, r := range readRows[EntityRow](t, writeRows(t, erows)) {
		if e := r.Entity(); !reflect.DeepEqual(e, es[i]) {
			t.Fatalf("entity %d:\n%+v\nwant\n%+v", i, e, es[i])
		}
	}

	rs := make([]Relation, 150)
	for i := range rs {
		r := sampleRelation()
		r.ID = fmt.Sprintf("rel_%d", i)
		if i%2 == 0 {
			r.Properties = nil
		}
		rs[i] = r
	}
	rrows := make([]RelationRow, len(rs))
	for i := range rs {
		rrows[i] = rs[i].Row()
	}
	for i, r := range readRows[RelationRow](t, writeRows(t, rrows)) {
		if got := r.Relation(); !reflect.DeepEqual(got, rs[i]) {
			t.Fatalf("relation %d:\n%+v\nwant\n%+v", i, got, rs[i])
		}
	}
}

// TestParquetSchemas pins the physical and logical types that DuckDB, Spark
// and delta-rs see, as read back from a file footer.
func TestParquetSchemas(t *testing.T) {
	tests := []struct {
		name string
		file *parquet.File
		want string
	}{
		{"memories", writeRows(t, []MemoryRow{sampleMemoryPtr().Row()}), `
	required binary system_id (STRING);
	required binary id (STRING);
	required binary kind (STRING);
	required binary content (STRING);
	optional group embedding (LIST) {
		repeated group list {
			required float element;
		}
	}
	required int64 created_at (TIMESTAMP(isAdjustedToUTC=true,unit=MICROS));
	optional binary project (STRING);
	optional binary namespace (STRING);
	optional binary session_id (STRING);
	optional binary user_id (STRING);
	optional binary category (STRING);
	optional binary subcategory (STRING);
	optional group tags (LIST) {
		repeated group list {
			required binary element (STRING);
		}
	}
	optional double importance;
	optional binary source_type (STRING);
	optional binary metadata (STRING);
	required int64 ingested_at (TIMESTAMP(isAdjustedToUTC=true,unit=MICROS));
	optional int64 expires_at (TIMESTAMP(isAdjustedToUTC=true,unit=MICROS));
}`},
		{"entities", writeRows(t, []EntityRow{sampleEntityPtr().Row()}), `
	required binary system_id (STRING);
	required binary id (STRING);
	required binary name (STRING);
	required binary entity_type (STRING);
	optional group observations (LIST) {
		repeated group list {
			required binary element (STRING);
		}
	}
	optional binary properties (STRING);
	required int64 created_at (TIMESTAMP(isAdjustedToUTC=true,unit=MICROS));
	required int64 updated_at (TIMESTAMP(isAdjustedToUTC=true,unit=MICROS));
	optional group embedding (LIST) {
		repeated group list {
			required float element;
		}
	}
	required int64 ingested_at (TIMESTAMP(isAdjustedToUTC=true,unit=MICROS));
}`},
		{"relations", writeRows(t, []RelationRow{sampleRelationPtr().Row()}), `
	required binary system_id (STRING);
	required binary id (STRING);
	required binary from_entity (STRING);
	required binary to_entity (STRING);
	required binary relation_type (STRING);
	optional binary properties (STRING);
	required int64 created_at (TIMESTAMP(isAdjustedToUTC=true,unit=MICROS));
	required int64 ingested_at (TIMESTAMP(isAdjustedToUTC=true,unit=MICROS));
}`},
	}
	for _, tt := range tests {
		got := tt.file.Schema().String()
		_, body, _ := strings.Cut(got, "{") // the root's name is the Go type's
		if body != tt.want {
			t.Errorf("%s schema:\n%s\nwant\n{%s", tt.name, got, tt.want)
		}
		// Only encodings every reader implements.
		for _, rg := range tt.file.Metadata().RowGroups {
			for _, c := range rg.Columns {
				for _, enc := range c.MetaData.Encoding {
					if s := enc.String(); s != "PLAIN" && s != "RLE" && s != "RLE_DICTIONARY" {
						t.Errorf("%s column %v uses %s", tt.name, c.MetaData.PathInSchema, s)
					}
				}
				// Embeddings are stored uncompressed: zstd saves nothing on
				// float32 values and costs encode time. Everything else is zstd.
				want := "ZSTD"
				if c.MetaData.PathInSchema[0] == "embedding" {
					want = "UNCOMPRESSED"
				}
				if c.MetaData.Codec.String() != want {
					t.Errorf("%s column %v: codec %v, want %s", tt.name, c.MetaData.PathInSchema, c.MetaData.Codec, want)
				}
			}
		}
	}
}

func sampleMemoryPtr() *Memory     { m := sampleMemory(); return &m }
func sampleEntityPtr() *Entity     { e := sampleEntity(); return &e }
func sampleRelationPtr() *Relation { r := sampleRelation(); return &r }

// TestDeltaSchemas checks that each schemaString is valid, has the partition
// columns, and matches the Parquet columns name for name and type for type.
func TestDeltaSchemas(t *testing.T) {
	if !slices.Equal(PartitionColumns, []string{"tier", "day"}) {
		t.Errorf("PartitionColumns = %v", PartitionColumns)
	}
	rowTypes := map[string]any{TableMemories: MemoryRow{}, TableEntities: EntityRow{}, TableRelations: RelationRow{}}
	for table, row := range rowTypes {
		s, err := DeltaSchemaString(table)
		if err != nil {
			t.Fatal(err)
		}
		var schema struct {
			Type   string `json:"type"`
			Fields []struct {
				Name     string          `json:"name"`
				Type     json.RawMessage `json:"type"`
				Nullable *bool           `json:"nullable"`
				Metadata map[string]any  `json:"metadata"`
			} `json:"fields"`
		}
		dec := json.NewDecoder(strings.NewReader(s))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&schema); err != nil || schema.Type != "struct" {
			t.Fatalf("%s: schemaString %s: %v", table, s, err)
		}
		deltaTypes := map[string]string{}
		for _, f := range schema.Fields {
			if f.Nullable == nil || !*f.Nullable || f.Metadata == nil {
				t.Errorf("%s.%s: nullable and metadata must be present (and nullable true)", table, f.Name)
			}
			deltaTypes[f.Name] = string(f.Type)
		}
		want := map[string]string{"tier": `"string"`, "system_id": `"string"`, "day": `"date"`}
		for _, col := range parquet.SchemaOf(row).Fields() {
			want[col.Name()] = deltaTypeOf(col)
		}
		if table == TableMemories { // warm and cold files have their own row type
			for _, col := range parquet.SchemaOf(QuantizedMemoryRow{}).Fields() {
				want[col.Name()] = deltaTypeOf(col)
			}
		}
		if !reflect.DeepEqual(deltaTypes, want) {
			t.Errorf("%s: Delta types\n%v\nwant (from the Parquet row type)\n%v", table, deltaTypes, want)
		}
	}
	if _, err := DeltaSchemaString("nope"); err == nil {
		t.Error("DeltaSchemaString(nope): no error")
	}
	s, _ := DeltaSchemaString(TableMemories)
	if !strings.Contains(s, `{"name":"embedding","type":{"type":"array","elementType":"float","containsNull":false},"nullable":true,"metadata":{}}`) {
		t.Errorf("memories embedding field not as expected in %s", s)
	}
}

// deltaTypeOf maps a Parquet column to the Delta type a reader expects for it.
func deltaTypeOf(f parquet.Field) string {
	var logical format.LogicalTypeValue
	if lt := f.Type().LogicalType(); lt != nil {
		logical = lt.Value
	}
	switch lt := logical.(type) {
	case *format.ListType:
		elem := f.Fields()[0].Fields()[0]
		return fmt.Sprintf(`{"type":"array","elementType":%s,"containsNull":%v}`, deltaTypeOf(elem), elem.Optional())
	case *format.StringType:
		return `"string"`
	case *format.IntType:
		if lt.BitWidth == 8 && lt.IsSigned {
			return `"byte"`
		}
	case *format.TimestampType:
		if _, micros := lt.Unit.Value.(*format.MicroSeconds); micros && lt.IsAdjustedToUTC {
			return `"timestamp"`
		}
	case nil:
		switch f.Type().Kind() {
		case parquet.Float:
			return `"float"`
		case parquet.Double:
			return `"double"`
		}
	}
	return "unmapped " + f.Type().String()
}

func TestDay(t *testing.T) {
	for _, tt := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 11, 25, 23, 59, 59, 999999999, time.UTC), "2026-11-25"},
		{time.Date(2026, 11, 25, 23, 30, 0, 0, time.FixedZone("W", -3600)), "2026-11-26"},
		{time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), "2000-01-01"},
	} {
		if got := Day(tt.t); got != tt.want {
			t.Errorf("Day(%v) = %s, want %s", tt.t, got, tt.want)
		}
	}
}

// TestOptionalStringsStayNull: an absent optional string is null in every
// position of a written batch, before and after a row that has a value.
// parquet-go v0.32.0 wrote the zero strings after a value as ” when the row
// type held plain strings (issue 14: NULL, 'v2', ”, ”), so the row types
// hold pointers; this test writes each column with the patterns N,X,N and
// N,X,N,N and X,N in one Write, as the lake writer does.
func TestOptionalStringsStayNull(t *testing.T) {
	set := map[string]func(*Memory, string){
		"project":     func(m *Memory, v string) { m.Project = v },
		"namespace":   func(m *Memory, v string) { m.Namespace = v },
		"session_id":  func(m *Memory, v string) { m.SessionID = v },
		"user_id":     func(m *Memory, v string) { m.UserID = v },
		"category":    func(m *Memory, v string) { m.Category = v },
		"subcategory": func(m *Memory, v string) { m.Subcategory = v },
		"source_type": func(m *Memory, v string) { m.SourceType = v },
		"metadata":    func(m *Memory, v string) { m.Metadata = json.RawMessage(`{"v":"` + v + `"}`) },
	}
	get := map[string]func(*MemoryRow) *string{
		"project": func(r *MemoryRow) *string { return r.Project }, "namespace": func(r *MemoryRow) *string { return r.Namespace },
		"session_id": func(r *MemoryRow) *string { return r.SessionID }, "user_id": func(r *MemoryRow) *string { return r.UserID },
		"category": func(r *MemoryRow) *string { return r.Category }, "subcategory": func(r *MemoryRow) *string { return r.Subcategory },
		"source_type": func(r *MemoryRow) *string { return r.SourceType }, "metadata": func(r *MemoryRow) *string { return r.Metadata },
	}
	for col, setCol := range set {
		for _, pattern := range []string{"NXN", "NXNN", "XN"} {
			t.Run(col+"/"+pattern, func(t *testing.T) {
				rows := make([]MemoryRow, len(pattern))
				for i, p := range pattern {
					m := Memory{ID: fmt.Sprint(i), Content: "c", CreatedAt: time.Unix(0, 0)}
					if p == 'X' {
						setCol(&m, fmt.Sprintf("v%d", i))
					}
					rows[i] = m.Row()
				}
				for _, q := range []bool{false, true} {
					var back []MemoryRow
					if q {
						qs := make([]QuantizedMemoryRow, len(rows))
						for i := range rows {
							qs[i] = rows[i].Quantized()
						}
						for _, r := range readRows[QuantizedMemoryRow](t, writeRows(t, qs)) {
							back = append(back, r.MemoryRow())
						}
					} else {
						back = readRows[MemoryRow](t, writeRows(t, rows))
					}
					for i, p := range pattern {
						v := get[col](&back[i])
						if (p == 'N') != (v == nil) {
							t.Errorf("quantized %v: row %d (%c) %s = %v, want null only for N", q, i, p, col, deref(v))
						}
					}
				}
			})
		}
	}
}
