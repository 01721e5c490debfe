package graph

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/akosha/akosha/functions/query/param"
	"github.com/akosha/akosha/functions/query/sqlresult"
	"github.com/akosha/akosha/schemas"
)

// Limits of the parameters (the MCP tools' input schemas name them too).
const (
	DefaultMaxHops    = 4
	MaxMaxHops        = 6
	DefaultNeighbours = 100 // limit of a node's neighbours
	MaxNeighbours     = 1000

	maxAliases   = 1000 // entities of one node's name read
	maxNameRunes = 1000 // relations' from_entity and to_entity
)

// graphCTE defines ents (entities with their node key) and edges
// (relations with both ends resolved to nodes, see doc.go).
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
func nodeOf(name string) string { return "lower(trim(" + sqlresult.Quote(name) + "))" }

// checkEntityKey validates a system_id and id as the schemas do: both
// become SQL literals.
func checkEntityKey(sys, id string) error {
	if err := param.SystemID(sys); err != nil {
		return err
	}
	probe := schemas.Entity{SystemID: sys, ID: id, Name: "x", EntityType: "x", CreatedAt: time.Now()}
	if err := probe.Validate(time.Now()); err != nil {
		return param.Invalid("invalid_id", "%v", err)
	}
	return nil
}

var neighbourParams = []string{"system_id", "id", "name", "relation_type", "direction", "limit"}

// neighbourQuery is a validated neighbours request: the node by an
// entity's key (sys and id) or by name.
type neighbourQuery struct {
	sys, id, name string
	byKey         bool
	types         []string
	direction     string // out, in or both
	limit         int
}

func parseNeighbourQuery(v url.Values) (*neighbourQuery, error) {
	p, err := param.Read(v, neighbourParams)
	if err != nil {
		return nil, err
	}
	q := &neighbourQuery{}
	if q.sys, err = p.One("system_id"); err != nil {
		return nil, err
	}
	if q.id, err = p.One("id"); err != nil {
		return nil, err
	}
	if q.name, err = p.One("name"); err != nil {
		return nil, err
	}
	q.byKey = q.sys != "" || q.id != ""
	switch {
	case q.byKey && q.name != "":
		return nil, param.Invalid(param.CodeInvalid, "give system_id and id, or name, not both")
	case q.byKey:
		if err := checkEntityKey(q.sys, q.id); err != nil {
			return nil, err
		}
	case q.name == "":
		return nil, param.Invalid(param.CodeMissing, "give system_id and id, or name")
	default:
		if err := param.Label("name", q.name, maxNameRunes); err != nil {
			return nil, err
		}
	}
	q.types = p.List("relation_type")
	if len(q.types) > param.MaxValues {
		return nil, param.Invalid("invalid_relation_type", "at most %d relation types", param.MaxValues)
	}
	for _, t := range q.types {
		if err := param.Label("relation_type", t, schemas.MaxLabelLen); err != nil {
			return nil, err
		}
	}
	if q.direction, err = p.Enum("direction", "both", "out", "in", "both"); err != nil {
		return nil, err
	}
	if q.limit, err = p.Int("limit", DefaultNeighbours, 1, MaxNeighbours); err != nil {
		return nil, err
	}
	return q, nil
}

// Neighbours answers the relations of one node (GET
// /v1/graph/entities/{system_id}/{id}; v holds system_id and id, or name,
// and optionally relation_type, direction (out, in, both) and limit).
func Neighbours(ctx context.Context, views Views, v url.Values) (*NeighboursResponse, error) {
	start := time.Now()
	q, err := parseNeighbourQuery(v)
	if err != nil {
		return nil, err
	}
	out := &NeighboursResponse{Entities: []GraphEntity{}, Neighbours: []Neighbour{}, Versions: versions(views)}
	// The node's entities in every system (and, by key, the one asked for).
	var lookup string
	if q.byKey {
		sys, id := sqlresult.Quote(q.sys), sqlresult.Quote(q.id)
		lookup = fmt.Sprintf(`WITH me AS (SELECT lower(trim(name)) AS node FROM entities WHERE system_id = %s AND id = %s)
SELECT system_id, id, name, entity_type, observations, properties, created_at, updated_at,
  system_id = %s AND id = %s AS self, lower(trim(name)) AS node
FROM entities WHERE lower(trim(name)) IN (SELECT node FROM me) ORDER BY system_id, id`, sys, id, sys, id)
	} else {
		lookup = fmt.Sprintf(`SELECT system_id, id, name, entity_type, observations, properties, created_at, updated_at,
  false AS self, lower(trim(name)) AS node
FROM entities WHERE lower(trim(name)) = %s ORDER BY system_id, id`, nodeOf(q.name))
	}
	res, err := views.Query(ctx, lookup, maxAliases)
	if err != nil {
		return nil, err
	}
	nodeName := q.name
	for i, row := range res.Rows {
		r := sqlresult.Row(row)
		e := entityDetail(r)
		out.Entities = append(out.Entities, e.GraphEntity)
		if r.Bool(8) || (!q.byKey && i == 0) {
			out.Entity = &e
			nodeName, out.Node = e.Name, r.Text(9)
		}
	}
	if q.byKey && out.Entity == nil {
		return nil, notFoundError(fmt.Sprintf("no entity %s in system %s", q.id, q.sys))
	}

	res, err = views.Query(ctx, neighboursSQL(q, nodeName), q.limit)
	if err != nil {
		return nil, err
	}
	for _, row := range res.Rows {
		r := sqlresult.Row(row)
		n := Neighbour{
			Direction: r.Text(0), Relation: RelationRef{SystemID: r.Text(1), ID: r.Text(2)}, RelationType: r.Text(3),
			Properties: r.JSON(4), Node: r.Text(5), Name: r.Text(6),
		}
		if !r.Null(7) {
			n.Entity = &GraphEntity{SystemID: r.Text(7), ID: r.Text(8), Name: r.Text(9), EntityType: r.Text(10)}
		}
		out.Total = int(r.Float(11))
		out.Node = r.Text(12)
		out.Neighbours = append(out.Neighbours, n)
	}
	if !q.byKey && len(out.Entities) == 0 && len(out.Neighbours) == 0 {
		return nil, notFoundError(fmt.Sprintf("no entity or relation end named %q", param.Truncate(q.name, 120)))
	}
	out.Count = len(out.Neighbours)
	out.Truncated = res.Truncated || out.Total > out.Count
	out.ElapsedMS = elapsedMS(start)
	return out, nil
}

// neighboursSQL is the statement of the relations touching the node named
// nodeName, each with the entity at its other end: the one the relation
// names by id, else one of that name in the relation's system, else in any.
func neighboursSQL(q *neighbourQuery, nodeName string) string {
	var filter strings.Builder
	if len(q.types) > 0 {
		filter.WriteString(" AND relation_type IN (" + sqlresult.QuoteAll(q.types) + ")")
	}
	var parts []string
	if q.direction != "in" {
		parts = append(parts, `SELECT 'out' AS direction, system_id AS rs, id AS rid, relation_type, properties, dst AS node, dst_name AS name, dst_id AS eid
  FROM edges WHERE src = (SELECT node FROM me)`+filter.String())
	}
	if q.direction != "out" {
		parts = append(parts, `SELECT 'in' AS direction, system_id AS rs, id AS rid, relation_type, properties, src AS node, src_name AS name, src_id AS eid
  FROM edges WHERE dst = (SELECT node FROM me)`+filter.String())
	}
	return `WITH ` + graphCTE + `, me AS (SELECT ` + nodeOf(nodeName) + ` AS node), nb AS (
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
}

func entityDetail(r sqlresult.Row) EntityDetail {
	e := EntityDetail{
		GraphEntity:  GraphEntity{SystemID: r.Text(0), ID: r.Text(1), Name: r.Text(2), EntityType: r.Text(3)},
		Observations: r.Strings(4), Properties: r.JSON(5), CreatedAt: r.Text(6), UpdatedAt: r.Text(7),
	}
	if e.Observations == nil {
		e.Observations = []string{} // an entity without observations has an empty list, not null
	}
	return e
}
