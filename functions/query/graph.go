package query

// The knowledge graph across systems (GET /v1/graph/entities/{system_id}/{id},
// GET /v1/graph/entities?name=..., GET /v1/graph/path, the MCP tools
// query_knowledge_graph and find_path, and `akosha graph`).
//
// The graph is package graph's (functions/query/graph; its doc.go says
// what a node is and how a path is found): here are the HTTP handlers and
// MCP tools, reading the views analytics.go pins.

import (
	"context"
	"net/http"
	"net/url"

	"github.com/akosha/akosha/functions/query/graph"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/internal/mcp"
)

// Graph limits.
const (
	DefaultMaxHops = graph.DefaultMaxHops
	MaxMaxHops     = graph.MaxMaxHops
)

// The answers of the graph are package graph's, encoded as they are.
type (
	GraphEntity        = graph.GraphEntity
	EntityDetail       = graph.EntityDetail
	RelationRef        = graph.RelationRef
	Neighbour          = graph.Neighbour
	NeighboursResponse = graph.NeighboursResponse
	PathNode           = graph.PathNode
	PathEdge           = graph.PathEdge
	PathResponse       = graph.PathResponse
)

// Neighbours answers the relations of one node (GET
// /v1/graph/entities/{system_id}/{id}; v holds system_id and id, or name,
// and optionally relation_type, direction (out, in, both) and limit).
func (f *Function) Neighbours(ctx context.Context, v url.Values) (*NeighboursResponse, error) {
	out, err := graph.Neighbours(ctx, f.views(ctx), v)
	return out, apiError(err)
}

// Path finds a shortest path between two nodes (GET /v1/graph/path; v holds
// from, to, max_hops and directed). Each end is "system_id/id" of an
// entity, or a name; the first reading that exists wins.
func (f *Function) Path(ctx context.Context, v url.Values) (*PathResponse, error) {
	out, err := graph.Path(ctx, f.views(ctx), v)
	return out, apiError(err)
}

// Handlers.

func (f *Function) serveGraphEntity(w http.ResponseWriter, r *http.Request) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		httpx.WriteError(w, http.StatusBadRequest, codeInvalidParam, "malformed query string: "+err.Error())
		return
	}
	for _, name := range []string{"system_id", "id", "name"} {
		if v.Has(name) {
			httpx.WriteError(w, http.StatusBadRequest, codeInvalidParam, "the entity is named by the path; "+name+" is not a parameter here")
			return
		}
	}
	v.Set("system_id", r.PathValue("system_id"))
	v.Set("id", r.PathValue("id"))
	out, err := f.Neighbours(r.Context(), v)
	if err != nil {
		httpx.WriteErr(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// serveGraphByName answers GET /v1/graph/entities?name=...: a node by its
// name, in any system (what query_knowledge_graph {name} does over MCP).
func (f *Function) serveGraphByName(w http.ResponseWriter, r *http.Request) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		httpx.WriteError(w, http.StatusBadRequest, codeInvalidParam, "malformed query string: "+err.Error())
		return
	}
	if v.Has("system_id") || v.Has("id") || !v.Has("name") {
		httpx.WriteError(w, http.StatusBadRequest, "missing_parameter", "give name here; an entity by key is GET /v1/graph/entities/{system_id}/{id}")
		return
	}
	out, err := f.Neighbours(r.Context(), v)
	if err != nil {
		httpx.WriteErr(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (f *Function) serveGraphPath(w http.ResponseWriter, r *http.Request) {
	serveAnalytics(w, r, f.Path)
}

// graphTools are query_knowledge_graph and find_path (MCPTools lists them).
func (f *Function) graphTools() []mcp.Tool {
	return []mcp.Tool{
		{
			Name: "query_knowledge_graph",
			Description: "An entity of the knowledge graph and its neighbours across every system (entities with the same name are one node): " +
				"each relation's type, direction (out: the entity is from_entity) and properties, and the entity at the other end. Name the entity by system_id and id, or by name.",
			InputSchema: objectSchema(map[string]any{
				"system_id":     map[string]any{"type": "string", "description": "the entity's system (with id)"},
				"id":            map[string]any{"type": "string", "description": "the entity's id (with system_id)"},
				"name":          map[string]any{"type": "string", "description": "or: the entity's name, in any system"},
				"relation_type": withDesc(schemaStrings, "only relations of these types"),
				"direction":     map[string]any{"type": "string", "enum": []any{"out", "in", "both"}, "default": "both"},
				"limit":         map[string]any{"type": "integer", "minimum": 1, "maximum": graph.MaxNeighbours, "default": graph.DefaultNeighbours},
			}, nil),
			Perm: auth.Read,
			Call: analyticsTool("query_knowledge_graph", f.Neighbours),
		},
		{
			Name:        "find_path",
			Description: "A shortest path between two entities of the knowledge graph, across systems where names match: the nodes, and each hop's relation with its direction.",
			InputSchema: objectSchema(map[string]any{
				"from":     map[string]any{"type": "string", "description": "an entity name, or system_id/id"},
				"to":       map[string]any{"type": "string", "description": "an entity name, or system_id/id"},
				"max_hops": map[string]any{"type": "integer", "minimum": 1, "maximum": MaxMaxHops, "default": DefaultMaxHops},
				"directed": map[string]any{"type": "boolean", "default": false, "description": "follow relations only from from_entity to to_entity"},
			}, nil, "from", "to"),
			Perm: auth.Read,
			Call: analyticsTool("find_path", f.Path),
		},
	}
}
