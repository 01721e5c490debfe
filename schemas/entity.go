package schemas

import (
	"encoding/json"
	"time"
)

// Entity is a node of a system's knowledge graph (api/openapi.yaml, schema Entity).
// Decode, Normalize and Validate it as a Memory.
type Entity struct {
	SystemID     string   `json:"system_id" validate:"required"` // charset checked by hand
	ID           string   `json:"id" validate:"required,max=200"`
	Name         string   `json:"name" validate:"required,max=1000"`
	EntityType   string   `json:"entity_type" validate:"required,max=200"`
	Observations []string `json:"observations,omitempty" validate:"max=1000,dive,required,max=65536"`
	// Properties is a JSON object.
	Properties json.RawMessage `json:"properties,omitempty"`
	CreatedAt  time.Time       `json:"created_at" validate:"required"`
	// UpdatedAt defaults to CreatedAt.
	UpdatedAt time.Time `json:"updated_at"`
	// Embedding is absent or EmbeddingDim finite values, as in Memory.
	Embedding []float32 `json:"embedding,omitempty"`
}

// Normalize puts e in its stored form, as Memory.Normalize does, and
// defaults UpdatedAt to CreatedAt.
func (e *Entity) Normalize() {
	e.CreatedAt = normalizeTime(e.CreatedAt)
	e.UpdatedAt = normalizeTime(e.UpdatedAt)
	if e.UpdatedAt.IsZero() {
		e.UpdatedAt = e.CreatedAt
	}
	if len(e.Embedding) == 0 {
		e.Embedding = nil
	}
	if len(e.Observations) == 0 {
		e.Observations = nil
	}
	if isNull(e.Properties) {
		e.Properties = nil
	}
}

// Validate reports every invalid field of e, as Memory.Validate does.
func (e *Entity) Validate(now time.Time) error {
	var p problems
	p.tags(e)
	p.check("system_id", checkSystemID(e.SystemID))
	p.check("id", checkID(e.ID))
	p.check("name", checkLabel(e.Name))
	p.check("entity_type", checkLabel(e.EntityType))
	p.checkList("observations", e.Observations, checkText)
	p.check("properties", checkObject(e.Properties))
	p.check("created_at", checkTime(e.CreatedAt, now))
	if !e.UpdatedAt.IsZero() {
		p.check("updated_at", checkTime(e.UpdatedAt, now))
	}
	p.check("embedding", checkEmbedding(e.Embedding))
	return p.err()
}

// UnmarshalJSON decodes an entity; see Memory.UnmarshalJSON.
func (e *Entity) UnmarshalJSON(data []byte) error {
	var out Entity
	var emb embeddings
	null, err := decodeRecord(data, "entity", func(d *decoder, key []byte) error {
		if ok, err := emb.member(d, key); ok {
			return err
		}
		var err error
		switch string(key) {
		case "system_id":
			out.SystemID, err = d.str("system_id")
		case "id":
			out.ID, err = d.str("id")
		case "name":
			out.Name, err = d.str("name")
		case "entity_type":
			out.EntityType, err = d.str("entity_type")
		case "observations":
			out.Observations, err = d.stringList("observations")
		case "properties":
			out.Properties, err = d.raw()
		case "created_at":
			out.CreatedAt, err = d.timestamp("created_at")
		case "updated_at":
			out.UpdatedAt, err = d.timestamp("updated_at")
		default:
			err = d.skip(1)
		}
		return err
	})
	if err != nil || null {
		return err
	}
	if out.Embedding, err = emb.result(); err != nil {
		return err
	}
	*e = out
	return nil
}

// MarshalJSON writes e with timestamps in RFC 3339 UTC.
func (e Entity) MarshalJSON() ([]byte, error) {
	type plain Entity
	return marshalJSON(struct {
		plain
		CreatedAt string `json:"created_at"`
		UpdatedAt string `json:"updated_at,omitempty"`
	}{plain(e), FormatTime(e.CreatedAt), formatOptionalTime(e.UpdatedAt)})
}

// formatOptionalTime is FormatTime, or "" for the zero time.
func formatOptionalTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return FormatTime(t)
}
