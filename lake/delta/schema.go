package delta

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// StructType is a Delta schema (the parsed schemaString) or a struct column.
type StructType struct {
	Fields []StructField
}

// StructField is one column of a StructType.
type StructField struct {
	Name     string         `json:"name"`
	Type     DataType       `json:"type"`
	Nullable bool           `json:"nullable"`
	Metadata map[string]any `json:"metadata"`
}

// MarshalJSON writes metadata as {} when empty: Spark's schema parser
// expects an object there.
func (f StructField) MarshalJSON() ([]byte, error) {
	type plain StructField
	if f.Metadata == nil {
		f.Metadata = map[string]any{}
	}
	return json.Marshal(plain(f))
}

// DataType is a column type: a primitive named by Primitive ("long",
// "string", "decimal(8,5)", ...) or exactly one of Struct, Array and Map.
type DataType struct {
	Primitive string
	Struct    *StructType
	Array     *ArrayType
	Map       *MapType
}

// ArrayType is an array column type.
type ArrayType struct {
	ElementType  DataType `json:"elementType"`
	ContainsNull bool     `json:"containsNull"`
}

// MapType is a map column type.
type MapType struct {
	KeyType           DataType `json:"keyType"`
	ValueType         DataType `json:"valueType"`
	ValueContainsNull bool     `json:"valueContainsNull"`
}

// PrimitiveType is a DataType for a primitive type name.
func PrimitiveType(name string) DataType { return DataType{Primitive: name} }

// Field returns the top-level field named name.
func (s *StructType) Field(name string) (StructField, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return StructField{}, false
}

// Names lists the top-level field names in schema order.
func (s *StructType) Names() []string {
	out := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		out[i] = f.Name
	}
	return out
}

// String is the type's name: the primitive name, or "struct", "array", "map".
func (d DataType) String() string {
	switch {
	case d.Struct != nil:
		return "struct"
	case d.Array != nil:
		return "array"
	case d.Map != nil:
		return "map"
	}
	return d.Primitive
}

// MarshalJSON writes {"type":"struct","fields":[...]}.
func (s StructType) MarshalJSON() ([]byte, error) {
	fields := s.Fields
	if fields == nil {
		fields = []StructField{}
	}
	return json.Marshal(struct {
		Type   string        `json:"type"`
		Fields []StructField `json:"fields"`
	}{"struct", fields})
}

// UnmarshalJSON reads a struct type.
func (s *StructType) UnmarshalJSON(b []byte) error {
	var raw struct {
		Type   string        `json:"type"`
		Fields []StructField `json:"fields"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw.Type != "struct" {
		return fmt.Errorf("schema: type %q, want struct", raw.Type)
	}
	s.Fields = raw.Fields
	return nil
}

// MarshalJSON writes a primitive as a JSON string and a complex type as an
// object, as schemaString does.
func (d DataType) MarshalJSON() ([]byte, error) {
	switch {
	case d.Struct != nil:
		return json.Marshal(d.Struct)
	case d.Array != nil:
		return json.Marshal(struct {
			Type string `json:"type"`
			ArrayType
		}{"array", *d.Array})
	case d.Map != nil:
		return json.Marshal(struct {
			Type string `json:"type"`
			MapType
		}{"map", *d.Map})
	case d.Primitive == "":
		return nil, errors.New("schema: empty data type")
	}
	return json.Marshal(d.Primitive)
}

// UnmarshalJSON reads a primitive type name or a complex type object.
func (d *DataType) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		*d = DataType{}
		return json.Unmarshal(b, &d.Primitive)
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return err
	}
	*d = DataType{}
	switch head.Type {
	case "struct":
		d.Struct = new(StructType)
		return json.Unmarshal(b, d.Struct)
	case "array":
		d.Array = new(ArrayType)
		return json.Unmarshal(b, d.Array)
	case "map":
		d.Map = new(MapType)
		return json.Unmarshal(b, d.Map)
	}
	return fmt.Errorf("schema: unknown complex type %q", head.Type)
}

// hasInvariants reports whether any field (at any depth) carries a
// delta.invariants constraint, which a writer-2 client must enforce.
func (s *StructType) hasInvariants() bool {
	for _, f := range s.Fields {
		if _, ok := f.Metadata["delta.invariants"]; ok {
			return true
		}
		if f.Type.hasInvariants() {
			return true
		}
	}
	return false
}

func (d DataType) hasInvariants() bool {
	switch {
	case d.Struct != nil:
		return d.Struct.hasInvariants()
	case d.Array != nil:
		return d.Array.ElementType.hasInvariants()
	case d.Map != nil:
		return d.Map.KeyType.hasInvariants() || d.Map.ValueType.hasInvariants()
	}
	return false
}
