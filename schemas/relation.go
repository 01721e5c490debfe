package schemas

import (
	"encoding/json"
	"time"
)

// Relation is a directed edge of a system's knowledge graph
// (api/openapi.yaml, schema Relation). FromEntity and ToEntity name entities as Session-Buddy's
// create_relation does. Decode, Normalize and Validate it as a Memory.
type Relation struct {
	SystemID     string `json:"system_id" validate:"required"` // charset checked by hand
	ID           string `json:"id" validate:"required,max=200"`
	FromEntity   string `json:"from_entity" validate:"required,max=1000"`
	ToEntity     string `json:"to_entity" validate:"required,max=1000"`
	RelationType string `json:"relation_type" validate:"required,max=200"`
	// Properties is a JSON object.
	Properties json.RawMessage `json:"properties,omitempty"`
	CreatedAt  time.Time       `json:"created_at" validate:"required"`
}

// Normalize puts r in its stored form, as Memory.Normalize does.
func (r *Relation) Normalize() {
	r.CreatedAt = normalizeTime(r.CreatedAt)
	if isNull(r.Properties) {
		r.Properties = nil
	}
}

// Validate reports every invalid field of r, as Memory.Validate does.
func (r *Relation) Validate(now time.Time) error {
	var p problems
	p.tags(r)
	p.check("system_id", checkSystemID(r.SystemID))
	p.check("id", checkID(r.ID))
	p.check("from_entity", checkLabel(r.FromEntity))
	p.check("to_entity", checkLabel(r.ToEntity))
	p.check("relation_type", checkLabel(r.RelationType))
	p.check("properties", checkObject(r.Properties))
	p.check("created_at", checkTime(r.CreatedAt, now))
	return p.err()
}

// UnmarshalJSON decodes a relation; see Memory.UnmarshalJSON.
func (r *Relation) UnmarshalJSON(data []byte) error {
	var out Relation
	null, err := decodeRecord(data, "relation", func(d *decoder, key []byte) error {
		var err error
		switch string(key) {
		case "system_id":
			out.SystemID, err = d.str("system_id")
		case "id":
			out.ID, err = d.str("id")
		case "from_entity":
			out.FromEntity, err = d.str("from_entity")
		case "to_entity":
			out.ToEntity, err = d.str("to_entity")
		case "relation_type":
			out.RelationType, err = d.str("relation_type")
		case "properties":
			out.Properties, err = d.raw()
		case "created_at":
			out.CreatedAt, err = d.timestamp("created_at")
		default:
			err = d.skip(1)
		}
		return err
	})
	if err != nil || null {
		return err
	}
	*r = out
	return nil
}

// MarshalJSON writes r with created_at in RFC 3339 UTC.
func (r Relation) MarshalJSON() ([]byte, error) {
	type plain Relation
	return marshalJSON(struct {
		plain
		CreatedAt string `json:"created_at"`
	}{plain(r), FormatTime(r.CreatedAt)})
}
