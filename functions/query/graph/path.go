package graph

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/akosha/akosha/functions/query/param"
	"github.com/akosha/akosha/functions/query/sqlresult"
)

var pathParams = []string{"from", "to", "max_hops", "directed"}

// entityRefRe splits "system_id/id"; what does not match is a name.
var entityRefRe = regexp.MustCompile(`^([A-Za-z0-9_-]{1,100})/([^/]+)$`)

// pathEnd is one end of a path request, as given.
type pathEnd struct {
	raw     string
	sys, id string // set when raw has the system_id/id form
}

func parsePathEnd(p param.Values, name string) (pathEnd, error) {
	s, err := p.One(name)
	if err != nil {
		return pathEnd{}, err
	}
	if s == "" {
		return pathEnd{}, param.Invalid(param.CodeMissing, "%s is required: an entity name or system_id/id", name)
	}
	if err := param.Label(name, s, maxNameRunes); err != nil {
		return pathEnd{}, err
	}
	e := pathEnd{raw: s}
	if m := entityRefRe.FindStringSubmatch(s); m != nil && checkEntityKey(m[1], m[2]) == nil {
		e.sys, e.id = m[1], m[2]
	}
	return e, nil
}

// pathQuery is a validated path request.
type pathQuery struct {
	from, to pathEnd
	maxHops  int
	directed bool
}

func parsePathQuery(v url.Values) (*pathQuery, error) {
	p, err := param.Read(v, pathParams)
	if err != nil {
		return nil, err
	}
	q := &pathQuery{}
	if q.from, err = parsePathEnd(p, "from"); err != nil {
		return nil, err
	}
	if q.to, err = parsePathEnd(p, "to"); err != nil {
		return nil, err
	}
	if q.maxHops, err = p.Int("max_hops", DefaultMaxHops, 1, MaxMaxHops); err != nil {
		return nil, err
	}
	if q.directed, err = p.Bool("directed"); err != nil {
		return nil, err
	}
	return q, nil
}

// Path finds a shortest path between two nodes (GET /v1/graph/path; v holds
// from, to, max_hops and directed). Each end is "system_id/id" of an
// entity, or a name; the first reading that exists wins.
func Path(ctx context.Context, views Views, v url.Values) (*PathResponse, error) {
	start := time.Now()
	q, err := parsePathQuery(v)
	if err != nil {
		return nil, err
	}
	out := &PathResponse{Path: []PathNode{}, Edges: []PathEdge{}, MaxHops: q.maxHops, Directed: q.directed, Versions: versions(views)}

	// Resolve both ends to nodes in one statement.
	byID := func(e pathEnd) string {
		if e.sys == "" {
			return "NULL"
		}
		return fmt.Sprintf("(SELECT min(node) FROM ents WHERE system_id = %s AND id = %s)", sqlresult.Quote(e.sys), sqlresult.Quote(e.id))
	}
	named := func(e pathEnd) string {
		n := nodeOf(e.raw)
		return fmt.Sprintf("EXISTS (SELECT 1 FROM ents WHERE node = %s) OR EXISTS (SELECT 1 FROM edges WHERE src = %s OR dst = %s)", n, n, n)
	}
	res, err := views.Query(ctx, `WITH `+graphCTE+`
SELECT `+byID(q.from)+`, `+nodeOf(q.from.raw)+`, `+named(q.from)+`, `+byID(q.to)+`, `+nodeOf(q.to.raw)+`, `+named(q.to), 1)
	if err != nil {
		return nil, err
	}
	if len(res.Rows) != 1 {
		return nil, fmt.Errorf("graph path: resolving the ends gave %d rows", len(res.Rows))
	}
	r := sqlresult.Row(res.Rows[0])
	// An end is the node of the entity it names by key, else the node of
	// its name if an entity or a relation end has it.
	resolve := func(e pathEnd, i int) (string, error) {
		if !r.Null(i) {
			return r.Text(i), nil
		}
		if r.Bool(i + 2) {
			return r.Text(i + 1), nil
		}
		return "", notFoundError(fmt.Sprintf("no entity or relation end %q", param.Truncate(e.raw, 120)))
	}
	if out.From, err = resolve(q.from, 0); err != nil {
		return nil, err
	}
	if out.To, err = resolve(q.to, 3); err != nil {
		return nil, err
	}

	res, err = views.Query(ctx, pathSQL(out.From, out.To, q.maxHops, q.directed), MaxMaxHops+1)
	if err != nil {
		return nil, err
	}
	if err := chain(out, res.Rows); err != nil {
		return nil, err
	}
	if len(out.Path) > 0 {
		hops := len(out.Path) - 1
		out.Found, out.Hops = true, &hops
	} else {
		out.Message = fmt.Sprintf("no path within %d hops", q.maxHops)
	}
	out.ElapsedMS = elapsedMS(start)
	return out, nil
}

// pathSQL is the statement of a shortest path between the nodes from and
// to (doc.go): one row per level of the chain, each with the node's
// display entity and the relation of the hop into it.
func pathSQL(from, to string, maxHops int, directed bool) string {
	against := `
  UNION ALL
  SELECT dst, src, 'in', system_id, id, relation_type, properties, dst_name, src_name FROM edges WHERE src <> dst`
	if directed {
		against = ""
	}
	fromN, toN := sqlresult.Quote(from), sqlresult.Quote(to)
	return `WITH RECURSIVE ` + graphCTE + `, steps AS (
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
}

// chain reads the rows of the path statement into out's nodes and edges,
// checking they are one chain from out.From to out.To: a row out of order,
// a level without its relation or ends other than asked are the
// statement's bug, an error rather than a wrong path.
func chain(out *PathResponse, rows [][]any) error {
	for i, row := range rows {
		r := sqlresult.Row(row)
		if int(r.Float(0)) != i {
			return fmt.Errorf("graph path: level %s at position %d", r.Text(0), i)
		}
		n := PathNode{Node: r.Text(1), Name: r.Text(2)}
		if !r.Null(3) {
			n.Entity = &GraphEntity{SystemID: r.Text(3), ID: r.Text(4), Name: r.Text(5), EntityType: r.Text(6)}
		}
		out.Path = append(out.Path, n)
		if i > 0 {
			if r.Null(7) {
				return fmt.Errorf("graph path: no relation into level %d", i)
			}
			out.Edges = append(out.Edges, PathEdge{
				From: out.Path[i-1].Node, To: n.Node, Direction: r.Text(7),
				Relation: RelationRef{SystemID: r.Text(8), ID: r.Text(9)}, RelationType: r.Text(10), Properties: r.JSON(11),
			})
		}
	}
	if len(out.Path) > 0 && (out.Path[0].Node != out.From || out.Path[len(out.Path)-1].Node != out.To) {
		return fmt.Errorf("graph path: the chain runs from %q to %q", out.Path[0].Node, out.Path[len(out.Path)-1].Node)
	}
	return nil
}
