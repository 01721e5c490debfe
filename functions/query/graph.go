package query

// The knowledge graph across systems (GET /v1/graph/entities/{system_id}/{id},
// GET /v1/graph/entities?name=..., GET /v1/graph/path, the MCP tools query_knowledge_graph and find_path, and
// `akosha graph`).
//
// Nodes. Session-Buddy's relations name their ends either by entity name
// (its create_relation tool) or by entity id (its knowledge_graph.duckdb,
// which the import job copies as stored). A relation's end is therefore
// resolved in its own system: an entity of that system whose id it is,
// otherwise the text itself as a name. Every end and every entity then
// becomes the node lower(trim(name)): entities with the same name in
// different systems are one node, so neighbours and paths cross systems
// wherever names match, case aside. A relation end naming no entity is
// still a node (a "dangling" one, with no entity record).
//
// Paths. The search runs in DuckDB, in one statement over the views:
//
//	steps   every relation as a step from one node to the other, both ways
//	        unless directed (each step says whether it follows the
//	        relation's from->to or goes against it); self-loops dropped
//	reach   a recursive CTE of (node, k): the nodes reachable by a walk of
//	        exactly k steps from the start, k <= max_hops, not walking on
//	        from the target. Rows are (node, k) pairs under UNION, so one
//	        level holds each node at most once and cycles cannot make the
//	        recursion grow: it is bounded by nodes × max_hops rows, unlike
//	        enumerating paths, which is exponential
//	dist    the least k per node: its BFS distance
//	back    from the target at distance d, one predecessor per level (the
//	        least node key at distance k-1 with a step into the current
//	        one), by a recursive CTE whose step aggregates, so the path is
//	        one deterministic chain however many shortest paths there are
//
// A per-hop BFS in Go (one statement per frontier) would stop earlier but
// carry the frontier into SQL text, which a dense graph makes huge; and the
// sandbox refuses DuckDB's USING KEY recurring tables, which would let the
// recursion skip visited nodes. The (node, k) walk needs neither.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/internal/mcp"
	"github.com/akosha/akosha/schemas"
)

// Graph limits.
const (
	DefaultMaxHops        = 4
	MaxMaxHops            = 6
	defaultNeighbourLimit = 100
	maxNeighbourLimit     = 1000
	maxAliases            = 1000
	maxNameRunes          = 1000 // relations' from_entity and to_entity
)

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

// graphCTE defines ents (entities with their node key) and edges
// (relations with both ends resolved to nodes, see the file comment).
const graphCTE = `ents AS (
  SELECT system_id, id, name, entity_type, lower(trim(name)) AS node FROM entities
), edges AS (
  SELECT r.system_id, r.id, r.relation_type, r.properties,
    coalesce(ef.node, lower(trim(r.from_entity))) AS src, coalesce(et.node, lower(trim(r.to_entity))) AS dst,
    coalesce(ef.name, r.from_entity) AS src_name, coalesce(et.name, r.to_entity) AS dst_name,
    ef.id AS src_id, et.id AS dst_id
  FROM relations r
  LEFT JOIN ents ef ON ef.system_id = r.system_id AND ef.id = r.from_entity
  LEFT JOIN ents et ON et.system_id = r.system_id AND et.id = r.to_entity
)`

// nodeOf is the SQL node key of a name.
func nodeOf(name string) string { return "lower(trim(" + quote(name) + "))" }

func notFound(format string, args ...any) error {
	return httpx.Errorf(http.StatusNotFound, httpx.CodeNotFound, format, args...)
}

// checkEntityKey validates a system_id and id as the schemas do: both
// become SQL literals.
func checkEntityKey(sys, id string) error {
	if !schemas.ValidSystemID(sys) {
		return badRequest(codeInvalidSystemID, "system_id %q: only letters, digits, '_' and '-', 1 to 100 of them", truncate(sys, 60))
	}
	probe := schemas.Entity{SystemID: sys, ID: id, Name: "x", EntityType: "x", CreatedAt: time.Now()}
	if err := probe.Validate(time.Now()); err != nil {
		return badRequest("invalid_id", "%v", err)
	}
	return nil
}

func (f *Function) graphVersions(snaps snapshots) map[string]int64 {
	return map[string]int64{"entities": snaps["entities"].Version, "relations": snaps["relations"].Version}
}

var neighbourParams = []string{"system_id", "id", "name", "relation_type", "direction", "limit"}

// Neighbours answers the relations of one node (GET
// /v1/graph/entities/{system_id}/{id}; v holds system_id and id, or name,
// and optionally relation_type, direction (out, in, both) and limit).
func (f *Function) Neighbours(ctx context.Context, v url.Values) (*NeighboursResponse, error) {
	start := time.Now()
	p, err := newParams(v, neighbourParams)
	if err != nil {
		return nil, err
	}
	sys, err := p.one("system_id")
	if err != nil {
		return nil, err
	}
	id, err := p.one("id")
	if err != nil {
		return nil, err
	}
	name, err := p.one("name")
	if err != nil {
		return nil, err
	}
	byKey := sys != "" || id != ""
	switch {
	case byKey && name != "":
		return nil, badRequest(codeInvalidParam, "give system_id and id, or name, not both")
	case byKey:
		if err := checkEntityKey(sys, id); err != nil {
			return nil, err
		}
	case name == "":
		return nil, badRequest("missing_parameter", "give system_id and id, or name")
	default:
		if err := checkLabelParam("name", name, maxNameRunes); err != nil {
			return nil, err
		}
	}
	types := p.list("relation_type")
	if len(types) > maxFilterValues {
		return nil, badRequest("invalid_relation_type", "at most %d relation types", maxFilterValues)
	}
	for _, t := range types {
		if err := checkLabelParam("relation_type", t, schemas.MaxLabelLen); err != nil {
			return nil, err
		}
	}
	direction, err := p.enum("direction", "both", "out", "in", "both")
	if err != nil {
		return nil, err
	}
	limit, err := p.integer("limit", defaultNeighbourLimit, 1, maxNeighbourLimit)
	if err != nil {
		return nil, err
	}

	snaps := f.snapshots()
	out := &NeighboursResponse{Entities: []GraphEntity{}, Neighbours: []Neighbour{}, Versions: f.graphVersions(snaps)}
	// The node's entities in every system (and, by key, the one asked for).
	var lookup string
	if byKey {
		lookup = fmt.Sprintf(`WITH me AS (SELECT lower(trim(name)) AS node FROM entities WHERE system_id = %s AND id = %s)
SELECT system_id, id, name, entity_type, observations, properties, created_at, updated_at,
  system_id = %s AND id = %s AS self, lower(trim(name)) AS node
FROM entities WHERE lower(trim(name)) IN (SELECT node FROM me) ORDER BY system_id, id`, quote(sys), quote(id), quote(sys), quote(id))
	} else {
		lookup = fmt.Sprintf(`SELECT system_id, id, name, entity_type, observations, properties, created_at, updated_at,
  false AS self, lower(trim(name)) AS node
FROM entities WHERE lower(trim(name)) = %s ORDER BY system_id, id`, nodeOf(name))
	}
	res, err := f.runAnalytics(ctx, snaps, lookup, maxAliases)
	if err != nil {
		return nil, err
	}
	nodeName := name
	for i, row := range res.Rows {
		r := rowReader(row)
		e := entityDetail(r)
		out.Entities = append(out.Entities, e.GraphEntity)
		if self, _ := r[8].(bool); self || (!byKey && i == 0) {
			out.Entity = &e
			nodeName, out.Node = e.Name, r.str(9)
		}
	}
	if byKey && out.Entity == nil {
		return nil, notFound("no entity %s in system %s", id, sys)
	}

	var filter strings.Builder
	if len(types) > 0 {
		filter.WriteString(" AND relation_type IN (" + quoteAll(types) + ")")
	}
	var parts []string
	if direction != "in" {
		parts = append(parts, `SELECT 'out' AS direction, system_id AS rs, id AS rid, relation_type, properties, dst AS node, dst_name AS name, dst_id AS eid
  FROM edges WHERE src = (SELECT node FROM me)`+filter.String())
	}
	if direction != "out" {
		parts = append(parts, `SELECT 'in' AS direction, system_id AS rs, id AS rid, relation_type, properties, src AS node, src_name AS name, src_id AS eid
  FROM edges WHERE dst = (SELECT node FROM me)`+filter.String())
	}
	sql := `WITH ` + graphCTE + `, me AS (SELECT ` + nodeOf(nodeName) + ` AS node), nb AS (
  ` + strings.Join(parts, "\n  UNION ALL\n  ") + `
), pick AS (
  SELECT nb.*, x.system_id AS xs, x.id AS xid, x.name AS xname, x.entity_type AS xtype,
    row_number() OVER (PARTITION BY nb.direction, nb.rs, nb.rid
      ORDER BY coalesce(x.system_id = nb.rs AND x.id = nb.eid, false) DESC, coalesce(x.system_id = nb.rs, false) DESC, x.system_id, x.id) AS rn
  FROM nb LEFT JOIN ents x ON x.node = nb.node
)
SELECT direction, rs, rid, relation_type, properties, node, name, xs, xid, xname, xtype, count(*) OVER () AS total,
  (SELECT node FROM me) AS me
FROM pick WHERE rn = 1
ORDER BY direction DESC, relation_type, node, rs, rid`
	res, err = f.runAnalytics(ctx, snaps, sql, limit)
	if err != nil {
		return nil, err
	}
	for _, row := range res.Rows {
		r := rowReader(row)
		n := Neighbour{
			Direction: r.str(0), Relation: RelationRef{SystemID: r.str(1), ID: r.str(2)}, RelationType: r.str(3),
			Properties: rawJSON(r[4]), Node: r.str(5), Name: r.str(6),
		}
		if r[7] != nil {
			n.Entity = &GraphEntity{SystemID: r.str(7), ID: r.str(8), Name: r.str(9), EntityType: r.str(10)}
		}
		out.Total = int(r.num(11))
		out.Node = r.str(12)
		out.Neighbours = append(out.Neighbours, n)
	}
	if !byKey && len(out.Entities) == 0 && len(out.Neighbours) == 0 {
		return nil, notFound("no entity or relation end named %q", truncate(name, 120))
	}
	out.Count = len(out.Neighbours)
	out.Truncated = res.Truncated || out.Total > out.Count
	out.ElapsedMS = elapsedMS(start)
	return out, nil
}

func entityDetail(r rowReader) EntityDetail {
	e := EntityDetail{
		GraphEntity:  GraphEntity{SystemID: r.str(0), ID: r.str(1), Name: r.str(2), EntityType: r.str(3)},
		Observations: []string{}, Properties: rawJSON(r[5]), CreatedAt: r.str(6), UpdatedAt: r.str(7),
	}
	if obs, ok := r[4].([]any); ok {
		for _, o := range obs {
			if s, ok := o.(string); ok {
				e.Observations = append(e.Observations, s)
			}
		}
	}
	return e
}

// rawJSON is a JSON column's value as it was stored.
func rawJSON(v any) json.RawMessage {
	switch x := v.(type) {
	case json.RawMessage:
		return x
	case nil:
		return nil
	case string:
		b, _ := json.Marshal(x)
		return b
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

var pathParams = []string{"from", "to", "max_hops", "directed"}

// entityRefRe splits "system_id/id"; what does not match is a name.
var entityRefRe = regexp.MustCompile(`^([A-Za-z0-9_-]{1,100})/([^/]+)$`)

// pathEnd is one end of a path request, as given.
type pathEnd struct {
	raw     string
	sys, id string // set when raw has the system_id/id form
}

func parsePathEnd(p params, name string) (pathEnd, error) {
	s, err := p.one(name)
	if err != nil {
		return pathEnd{}, err
	}
	if s == "" {
		return pathEnd{}, badRequest("missing_parameter", "%s is required: an entity name or system_id/id", name)
	}
	if err := checkLabelParam(name, s, maxNameRunes); err != nil {
		return pathEnd{}, err
	}
	e := pathEnd{raw: s}
	if m := entityRefRe.FindStringSubmatch(s); m != nil && checkEntityKey(m[1], m[2]) == nil {
		e.sys, e.id = m[1], m[2]
	}
	return e, nil
}

// Path finds a shortest path between two nodes (GET /v1/graph/path; v holds
// from, to, max_hops and directed). Each end is "system_id/id" of an
// entity, or a name; the first reading that exists wins.
func (f *Function) Path(ctx context.Context, v url.Values) (*PathResponse, error) {
	start := time.Now()
	p, err := newParams(v, pathParams)
	if err != nil {
		return nil, err
	}
	from, err := parsePathEnd(p, "from")
	if err != nil {
		return nil, err
	}
	to, err := parsePathEnd(p, "to")
	if err != nil {
		return nil, err
	}
	maxHops, err := p.integer("max_hops", DefaultMaxHops, 1, MaxMaxHops)
	if err != nil {
		return nil, err
	}
	directed, err := p.boolean("directed")
	if err != nil {
		return nil, err
	}
	snaps := f.snapshots()
	out := &PathResponse{Path: []PathNode{}, Edges: []PathEdge{}, MaxHops: maxHops, Directed: directed, Versions: f.graphVersions(snaps)}

	// Resolve both ends to nodes in one statement.
	byID := func(e pathEnd) string {
		if e.sys == "" {
			return "NULL"
		}
		return fmt.Sprintf("(SELECT min(node) FROM ents WHERE system_id = %s AND id = %s)", quote(e.sys), quote(e.id))
	}
	named := func(e pathEnd) string {
		n := nodeOf(e.raw)
		return fmt.Sprintf("EXISTS (SELECT 1 FROM ents WHERE node = %s) OR EXISTS (SELECT 1 FROM edges WHERE src = %s OR dst = %s)", n, n, n)
	}
	res, err := f.runAnalytics(ctx, snaps, `WITH `+graphCTE+`
SELECT `+byID(from)+`, `+nodeOf(from.raw)+`, `+named(from)+`, `+byID(to)+`, `+nodeOf(to.raw)+`, `+named(to), 1)
	if err != nil {
		return nil, err
	}
	if len(res.Rows) != 1 {
		return nil, fmt.Errorf("graph path: resolving the ends gave %d rows", len(res.Rows))
	}
	r := rowReader(res.Rows[0])
	resolve := func(e pathEnd, i int) (string, error) {
		if r[i] != nil {
			return r.str(i), nil
		}
		if b, _ := r[i+2].(bool); b {
			return r.str(i + 1), nil
		}
		return "", notFound("no entity or relation end %q", truncate(e.raw, 120))
	}
	if out.From, err = resolve(from, 0); err != nil {
		return nil, err
	}
	if out.To, err = resolve(to, 3); err != nil {
		return nil, err
	}

	against := `
  UNION ALL
  SELECT dst, src, 'in', system_id, id, relation_type, properties, dst_name, src_name FROM edges WHERE src <> dst`
	if directed {
		against = ""
	}
	fromN, toN := quote(out.From), quote(out.To)
	sql := `WITH RECURSIVE ` + graphCTE + `, steps AS (
  SELECT src AS u, dst AS v, 'out' AS direction, system_id, id, relation_type, properties, src_name AS u_name, dst_name AS v_name
  FROM edges WHERE src <> dst` + against + `
), reach(node, k) AS (
  SELECT ` + fromN + `, 0
  UNION
  SELECT s.v, r.k + 1 FROM reach r JOIN steps s ON s.u = r.node
  WHERE r.k < ` + strconv.Itoa(maxHops) + ` AND r.node <> ` + toN + `
), dist AS (
  SELECT node, min(k) AS d FROM reach GROUP BY node
), back(k, node) AS (
  SELECT d, node FROM dist WHERE node = ` + toN + `
  UNION ALL
  SELECT b.k - 1, min(s.u) FROM back b JOIN steps s ON s.v = b.node JOIN dist ON dist.node = s.u AND dist.d = b.k - 1
  WHERE b.k > 0 GROUP BY b.k
), hop AS (
  SELECT cur.k, s.direction, s.system_id, s.id, s.relation_type, s.properties,
    row_number() OVER (PARTITION BY cur.k ORDER BY s.direction DESC, s.system_id, s.id) AS rn
  FROM back cur JOIN back prev ON prev.k = cur.k - 1 JOIN steps s ON s.u = prev.node AND s.v = cur.node
), disp AS (
  SELECT node, system_id, id, name, entity_type, row_number() OVER (PARTITION BY node ORDER BY system_id, id) AS rn
  FROM ents WHERE node IN (SELECT node FROM back)
), names AS (
  SELECT node, min(name) AS name FROM (SELECT u AS node, u_name AS name FROM steps UNION ALL SELECT v, v_name FROM steps)
  WHERE node IN (SELECT node FROM back) GROUP BY node
)
SELECT b.k, b.node, coalesce(d.name, n.name, b.node) AS name, d.system_id, d.id, d.name, d.entity_type,
  h.direction, h.system_id, h.id, h.relation_type, h.properties
FROM back b LEFT JOIN disp d ON d.node = b.node AND d.rn = 1 LEFT JOIN names n ON n.node = b.node
LEFT JOIN hop h ON h.k = b.k AND h.rn = 1
ORDER BY b.k`
	res, err = f.runAnalytics(ctx, snaps, sql, MaxMaxHops+1)
	if err != nil {
		return nil, err
	}
	for i, row := range res.Rows {
		r := rowReader(row)
		if int(r.num(0)) != i {
			return nil, fmt.Errorf("graph path: level %v at position %d", r[0], i)
		}
		n := PathNode{Node: r.str(1), Name: r.str(2)}
		if r[3] != nil {
			n.Entity = &GraphEntity{SystemID: r.str(3), ID: r.str(4), Name: r.str(5), EntityType: r.str(6)}
		}
		out.Path = append(out.Path, n)
		if i > 0 {
			if r[7] == nil {
				return nil, fmt.Errorf("graph path: no relation into level %d", i)
			}
			out.Edges = append(out.Edges, PathEdge{
				From: out.Path[i-1].Node, To: n.Node, Direction: r.str(7),
				Relation: RelationRef{SystemID: r.str(8), ID: r.str(9)}, RelationType: r.str(10), Properties: rawJSON(r[11]),
			})
		}
	}
	if len(out.Path) > 0 {
		if out.Path[0].Node != out.From || out.Path[len(out.Path)-1].Node != out.To {
			return nil, fmt.Errorf("graph path: the chain runs from %q to %q", out.Path[0].Node, out.Path[len(out.Path)-1].Node)
		}
		hops := len(out.Path) - 1
		out.Found, out.Hops = true, &hops
	} else {
		out.Message = fmt.Sprintf("no path within %d hops", maxHops)
	}
	out.ElapsedMS = elapsedMS(start)
	return out, nil
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
				"limit":         map[string]any{"type": "integer", "minimum": 1, "maximum": maxNeighbourLimit, "default": defaultNeighbourLimit},
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
