package graph

// The answers of the graph, encoded as they are by the query function
// (api/openapi.yaml).

import "encoding/json"

// GraphEntity is an entity record as a node of the graph shows it.
type GraphEntity struct {
	SystemID   string `json:"system_id"`
	ID         string `json:"id"`
	Name       string `json:"name"`
	EntityType string `json:"entity_type"`
}

// EntityDetail is an entity with its observations and properties.
type EntityDetail struct {
	GraphEntity
	Observations []string        `json:"observations"`
	Properties   json.RawMessage `json:"properties"`
	CreatedAt    string          `json:"created_at"`
	UpdatedAt    string          `json:"updated_at"`
}

// RelationRef names a relation record.
type RelationRef struct {
	SystemID string `json:"system_id"`
	ID       string `json:"id"`
}

// Neighbour is one relation touching a node, and the node at its other end.
type Neighbour struct {
	RelationType string `json:"relation_type"`
	// Direction is out when the node asked about is the relation's
	// from_entity, in when it is its to_entity.
	Direction  string          `json:"direction"`
	Properties json.RawMessage `json:"properties"`
	Relation   RelationRef     `json:"relation"`
	// Node is the other end's key (its lower-cased name), Name its name.
	Node string `json:"node"`
	Name string `json:"name"`
	// Entity is the other end's entity record: the one the relation names
	// by id, else one of that name in the relation's system, else in any
	// system; null for a dangling end.
	Entity *GraphEntity `json:"entity"`
}

// NeighboursResponse is the answer of GET /v1/graph/entities/{system_id}/{id}.
type NeighboursResponse struct {
	// Entity is the entity asked for (by name: the first of Entities, or
	// null when the name is only a relation end).
	Entity *EntityDetail `json:"entity"`
	Node   string        `json:"node"`
	// Entities are every system's entities with this node's name.
	Entities   []GraphEntity    `json:"entities"`
	Neighbours []Neighbour      `json:"neighbours"`
	Count      int              `json:"count"`
	Total      int              `json:"total"`
	Truncated  bool             `json:"truncated"`
	Versions   map[string]int64 `json:"versions"`
	ElapsedMS  float64          `json:"elapsed_ms"`
}

// PathNode is one node of a path.
type PathNode struct {
	Node   string       `json:"node"`
	Name   string       `json:"name"`
	Entity *GraphEntity `json:"entity"` // one entity of that name (least system_id, id); null if dangling
}

// PathEdge is one hop of a path, from the node before it to the node after.
type PathEdge struct {
	From         string `json:"from"`
	To           string `json:"to"`
	RelationType string `json:"relation_type"`
	// Direction is out when the relation points along the path (its
	// from_entity is From), in when the hop goes against it.
	Direction  string          `json:"direction"`
	Relation   RelationRef     `json:"relation"`
	Properties json.RawMessage `json:"properties"`
}

// PathResponse is the answer of GET /v1/graph/path. No path within
// max_hops is found: false (200); an end that names nothing is a 404.
type PathResponse struct {
	Found     bool             `json:"found"`
	Hops      *int             `json:"hops"`
	From      string           `json:"from"` // the ends' node keys
	To        string           `json:"to"`
	Path      []PathNode       `json:"path"`
	Edges     []PathEdge       `json:"edges"`
	MaxHops   int              `json:"max_hops"`
	Directed  bool             `json:"directed"`
	Message   string           `json:"message,omitempty"`
	Versions  map[string]int64 `json:"versions"`
	ElapsedMS float64          `json:"elapsed_ms"`
}
