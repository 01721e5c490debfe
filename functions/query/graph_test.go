package query_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/schemas"
)

var graphAt = time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC)

func ent(sys, id, name, typ string) schemas.Entity {
	return schemas.Entity{SystemID: sys, ID: id, Name: name, EntityType: typ, CreatedAt: graphAt,
		Observations: []string{"seen in " + sys}, Properties: json.RawMessage(`{"sys":"` + sys + `"}`)}
}

func rel(sys, id, from, typ, to string) schemas.Relation {
	return schemas.Relation{SystemID: sys, ID: id, FromEntity: from, ToEntity: to, RelationType: typ, CreatedAt: graphAt}
}

// graphLake writes a known graph over three systems:
//
//	s1 (relations name their ends, as Session-Buddy's create_relation does):
//	  Akosha -uses-> DuckDB -reads-> Parquet -stores_for-> Akosha   (a cycle)
//	  Akosha -written_in-> Go, Go -depends_on-> Go                  (a self-loop)
//	  Akosha -mentions-> Kubernetes                                  (no such entity)
//	  Lonely                                                         (no relations)
//	s2 (relations name entity ids, as its imported knowledge_graph.duckdb does):
//	  duckdb -interops-> Arrow, Polars -uses-> Arrow
//	  "duckdb" is s1's "DuckDB": one node across the two systems
//	s3: Island -near-> Isle                                          (disconnected)
func graphLake(t *testing.T) *process {
	p := startProcess(t, testenv.Local(t), query.Config{})
	ents := []schemas.Entity{
		ent("s1", "e-akosha", "Akosha", "project"), ent("s1", "e-duckdb", "DuckDB", "tool"), ent("s1", "e-parquet", "Parquet", "format"),
		ent("s1", "e-go", "Go", "language"), ent("s1", "e-lonely", "Lonely", "thing"),
		ent("s2", "ent-duck", "duckdb", "library"), ent("s2", "ent-arrow", "Arrow", "format"), ent("s2", "ent-polars", "Polars", "library"),
		ent("s3", "isl-1", "Island", "place"), ent("s3", "isl-2", "Isle", "place"),
	}
	r1 := rel("s1", "r1", "Akosha", "uses", "DuckDB")
	r1.Properties = json.RawMessage(`{"since":2025}`)
	rels := []schemas.Relation{
		r1, rel("s1", "r2", "DuckDB", "reads", "Parquet"), rel("s1", "r3", "Parquet", "stores_for", "Akosha"),
		rel("s1", "r4", "Akosha", "written_in", "Go"), rel("s1", "r5", "Go", "depends_on", "Go"),
		rel("s1", "r6", "Akosha", "mentions", "Kubernetes"),
		rel("s2", "q1", "ent-duck", "interops", "ent-arrow"), rel("s2", "q2", "ent-polars", "uses", "ent-arrow"),
		rel("s3", "i1", "isl-1", "near", "isl-2"),
	}
	if _, err := p.lake.AppendEntities(ctxT(t), ents); err != nil {
		t.Fatal(err)
	}
	if _, err := p.lake.AppendRelations(ctxT(t), rels); err != nil {
		t.Fatal(err)
	}
	return p
}

func neighbours(t *testing.T, p *process, sys, id string, v url.Values) query.NeighboursResponse {
	t.Helper()
	st, a, body := getJSON[query.NeighboursResponse](t, p, "/v1/graph/entities/"+sys+"/"+id, v)
	if st != 200 {
		t.Fatalf("neighbours of %s/%s: %d %s", sys, id, st, body)
	}
	return a
}

// summary writes neighbours as "out uses akosha (s1/r1) -> s1/e-akosha".
func summary(ns []query.Neighbour) []string {
	var out []string
	for _, n := range ns {
		e := "-"
		if n.Entity != nil {
			e = n.Entity.SystemID + "/" + n.Entity.ID
		}
		out = append(out, fmt.Sprintf("%s %s %s (%s/%s) -> %s", n.Direction, n.RelationType, n.Node, n.Relation.SystemID, n.Relation.ID, e))
	}
	return out
}

func TestGraphNeighbours(t *testing.T) {
	p := graphLake(t)
	a := neighbours(t, p, "s1", "e-duckdb", nil)
	if a.Entity == nil || a.Entity.Name != "DuckDB" || a.Entity.EntityType != "tool" || a.Node != "duckdb" ||
		!slices.Equal(a.Entity.Observations, []string{"seen in s1"}) || string(a.Entity.Properties) != `{"sys":"s1"}` ||
		a.Entity.CreatedAt != "2026-11-10T12:00:00Z" {
		t.Fatalf("entity: %s", mustJSON(a.Entity))
	}
	// The same name in s2 is the same node.
	if len(a.Entities) != 2 || a.Entities[0].SystemID != "s1" || a.Entities[1].SystemID != "s2" || a.Entities[1].ID != "ent-duck" {
		t.Errorf("entities: %s", mustJSON(a.Entities))
	}
	want := []string{
		"out interops arrow (s2/q1) -> s2/ent-arrow", // through s2's duckdb, named by id
		"out reads parquet (s1/r2) -> s1/e-parquet",
		"in uses akosha (s1/r1) -> s1/e-akosha",
	}
	if got := summary(a.Neighbours); !slices.Equal(got, want) {
		t.Errorf("neighbours:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if a.Count != 3 || a.Total != 3 || a.Truncated || a.Versions["entities"] != 1 || a.Versions["relations"] != 1 {
		t.Errorf("count %d total %d truncated %v versions %v", a.Count, a.Total, a.Truncated, a.Versions)
	}
	if p := a.Neighbours[2].Properties; string(p) != `{"since":2025}` || a.Neighbours[2].Name != "Akosha" {
		t.Errorf("properties %s name %s", p, a.Neighbours[2].Name)
	}
	// Asked from s2's side, the same node and neighbours.
	if b := neighbours(t, p, "s2", "ent-duck", nil); b.Node != "duckdb" || !slices.Equal(summary(b.Neighbours), want) || b.Entity.ID != "ent-duck" {
		t.Errorf("from s2: %s", mustJSON(b))
	}
	// Filters.
	if b := neighbours(t, p, "s1", "e-duckdb", values("direction", "out")); !slices.Equal(summary(b.Neighbours), want[:2]) {
		t.Errorf("direction out: %v", summary(b.Neighbours))
	}
	if b := neighbours(t, p, "s1", "e-duckdb", values("direction", "in")); !slices.Equal(summary(b.Neighbours), want[2:]) {
		t.Errorf("direction in: %v", summary(b.Neighbours))
	}
	if b := neighbours(t, p, "s1", "e-duckdb", values("relation_type", "uses,reads")); !slices.Equal(summary(b.Neighbours), want[1:]) {
		t.Errorf("relation_type: %v", summary(b.Neighbours))
	}
	if b := neighbours(t, p, "s1", "e-duckdb", values("limit", "1")); b.Count != 1 || b.Total != 3 || !b.Truncated || summary(b.Neighbours)[0] != want[0] {
		t.Errorf("limit 1: %s", mustJSON(b))
	}
	// An end named by name is the entity of that name in the relation's
	// own system (s1's DuckDB, not s2's duckdb), and an end named by id is
	// that entity.
	if b := neighbours(t, p, "s1", "e-akosha", nil); !slices.Equal(summary(b.Neighbours), []string{
		"out mentions kubernetes (s1/r6) -> -", "out uses duckdb (s1/r1) -> s1/e-duckdb", "out written_in go (s1/r4) -> s1/e-go",
		"in stores_for parquet (s1/r3) -> s1/e-parquet"}) {
		t.Errorf("Akosha: %v", summary(b.Neighbours))
	}
	if b := neighbours(t, p, "s2", "ent-arrow", nil); !slices.Equal(summary(b.Neighbours), []string{
		"in interops duckdb (s2/q1) -> s2/ent-duck", "in uses polars (s2/q2) -> s2/ent-polars"}) {
		t.Errorf("Arrow: %v", summary(b.Neighbours))
	}
	// A self-loop is both out and in; a dangling end has no entity.
	if b := neighbours(t, p, "s1", "e-go", nil); !slices.Equal(summary(b.Neighbours), []string{
		"out depends_on go (s1/r5) -> s1/e-go", "in depends_on go (s1/r5) -> s1/e-go", "in written_in akosha (s1/r4) -> s1/e-akosha"}) {
		t.Errorf("Go: %v", summary(b.Neighbours))
	}
	if b := neighbours(t, p, "s1", "e-akosha", values("relation_type", "mentions")); len(b.Neighbours) != 1 ||
		b.Neighbours[0].Entity != nil || b.Neighbours[0].Name != "Kubernetes" || b.Neighbours[0].Node != "kubernetes" {
		t.Errorf("dangling: %s", mustJSON(b.Neighbours))
	}
	// No relations: the entity, and an empty list.
	if b := neighbours(t, p, "s1", "e-lonely", nil); b.Entity == nil || b.Count != 0 || b.Neighbours == nil || b.Node != "lonely" {
		t.Errorf("lonely: %s", mustJSON(b))
	}
	// By name (MCP), including a name only relations use.
	ans, err := p.query.Neighbours(ctxT(t), values("name", "kubernetes"))
	if err != nil || ans.Entity != nil || len(ans.Entities) != 0 || ans.Node != "kubernetes" ||
		!slices.Equal(summary(ans.Neighbours), []string{"in mentions akosha (s1/r6) -> s1/e-akosha"}) {
		t.Errorf("by name: %v %s", err, mustJSON(ans))
	}
	ans, err = p.query.Neighbours(ctxT(t), values("name", " ARROW "))
	if err != nil || ans.Entity == nil || ans.Entity.ID != "ent-arrow" || len(ans.Neighbours) != 2 {
		t.Errorf("by name, case and spaces aside: %v %s", err, mustJSON(ans))
	}
	// By name over HTTP too.
	st, byName, body := getJSON[query.NeighboursResponse](t, p, "/v1/graph/entities", values("name", "Kubernetes"))
	if st != 200 || byName.Node != "kubernetes" || len(byName.Neighbours) != 1 {
		t.Errorf("GET /v1/graph/entities?name=: %d %s", st, body)
	}
	if st, _, _ := getJSON[query.NeighboursResponse](t, p, "/v1/graph/entities", values("name", "x", "system_id", "s1")); st != 400 {
		t.Errorf("name with system_id: %d", st)
	}
	if st, _, _ := getJSON[query.NeighboursResponse](t, p, "/v1/graph/entities", nil); st != 400 {
		t.Errorf("no name: %d", st)
	}
	// Unknown entities are 404.
	for _, path := range []string{"/v1/graph/entities/s1/e-missing", "/v1/graph/entities/s9/e-akosha", "/v1/graph/entities?name=nowhere"} {
		if st, _, body := do(t, "GET", p.url+path, nil, nil); st != 404 || !strings.Contains(string(body), `"not_found"`) {
			t.Errorf("%s: %d %s", path, st, body)
		}
	}
	if _, err := p.query.Neighbours(ctxT(t), values("name", "nowhere")); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("unknown name: %v", err)
	}
}

func path(t *testing.T, p *process, kv ...string) query.PathResponse {
	t.Helper()
	st, a, body := getJSON[query.PathResponse](t, p, "/v1/graph/path", values(kv...))
	if st != 200 {
		t.Fatalf("path %v: %d %s", kv, st, body)
	}
	return a
}

// pathSummary writes a path as "akosha -uses> duckdb <uses- polars".
func pathSummary(a query.PathResponse) string {
	if !a.Found {
		return "not found"
	}
	var b strings.Builder
	b.WriteString(a.Path[0].Node)
	for i, e := range a.Edges {
		if e.From != a.Path[i].Node || e.To != a.Path[i+1].Node {
			return fmt.Sprintf("edge %d runs %s..%s beside nodes %s..%s", i, e.From, e.To, a.Path[i].Node, a.Path[i+1].Node)
		}
		if e.Direction == "out" {
			fmt.Fprintf(&b, " -%s(%s/%s)> %s", e.RelationType, e.Relation.SystemID, e.Relation.ID, e.To)
		} else {
			fmt.Fprintf(&b, " <%s(%s/%s)- %s", e.RelationType, e.Relation.SystemID, e.Relation.ID, e.To)
		}
	}
	return b.String()
}

func TestGraphPath(t *testing.T) {
	p := graphLake(t)
	for _, c := range []struct {
		args []string
		want string
		hops int
	}{
		// Across systems: s1's DuckDB is s2's duckdb.
		{[]string{"from", "Akosha", "to", "Polars"}, "akosha -uses(s1/r1)> duckdb -interops(s2/q1)> arrow <uses(s2/q2)- polars", 3},
		{[]string{"from", "s2/ent-polars", "to", "s1/e-akosha"}, "polars -uses(s2/q2)> arrow <interops(s2/q1)- duckdb <uses(s1/r1)- akosha", 3},
		// The cycle: Parquet -stores_for-> Akosha is one hop back, not two forward.
		{[]string{"from", "Akosha", "to", "Parquet"}, "akosha <stores_for(s1/r3)- parquet", 1},
		// Directed, only the long way round follows the arrows.
		{[]string{"from", "Akosha", "to", "Parquet", "directed", "true"}, "akosha -uses(s1/r1)> duckdb -reads(s1/r2)> parquet", 2},
		{[]string{"from", "Akosha", "to", "Polars", "directed", "true"}, "not found", 0},
		// max_hops bounds the search.
		{[]string{"from", "Akosha", "to", "Polars", "max_hops", "2"}, "not found", 0},
		{[]string{"from", "Akosha", "to", "Polars", "max_hops", "3"}, "akosha -uses(s1/r1)> duckdb -interops(s2/q1)> arrow <uses(s2/q2)- polars", 3},
		// Names match case and surrounding spaces aside.
		{[]string{"from", "akosha", "to", " ARROW"}, "akosha -uses(s1/r1)> duckdb -interops(s2/q1)> arrow", 2},
		// A relation end without an entity is a node.
		{[]string{"from", "Kubernetes", "to", "Go"}, "kubernetes <mentions(s1/r6)- akosha -written_in(s1/r4)> go", 2},
		// The self-loop is no shortcut, and a node is zero hops from itself.
		{[]string{"from", "Go", "to", "s1/e-go"}, "go", 0},
		// Disconnected: another component, and an entity with no relations.
		{[]string{"from", "Akosha", "to", "Island", "max_hops", "6"}, "not found", 0},
		{[]string{"from", "Lonely", "to", "Akosha"}, "not found", 0},
		{[]string{"from", "s3/isl-1", "to", "Isle"}, "island -near(s3/i1)> isle", 1},
	} {
		a := path(t, p, c.args...)
		if got := pathSummary(a); got != c.want {
			t.Errorf("%v:\n got %s\nwant %s", c.args, got, c.want)
			continue
		}
		if a.Found && (a.Hops == nil || *a.Hops != c.hops || len(a.Edges) != c.hops || len(a.Path) != c.hops+1) {
			t.Errorf("%v: hops %v, want %d", c.args, a.Hops, c.hops)
		}
		if !a.Found && (a.Hops != nil || len(a.Path) != 0 || !strings.Contains(a.Message, "no path within")) {
			t.Errorf("%v: not found but %s", c.args, mustJSON(a))
		}
	}
	// Nodes carry an entity (the least system_id, id of the name) or none.
	a := path(t, p, "from", "Akosha", "to", "Polars")
	if e := a.Path[1].Entity; e == nil || e.SystemID != "s1" || e.ID != "e-duckdb" || a.Path[1].Name != "DuckDB" || a.From != "akosha" || a.To != "polars" || a.MaxHops != 4 {
		t.Errorf("path nodes: %s", mustJSON(a))
	}
	if string(a.Edges[0].Properties) != `{"since":2025}` {
		t.Errorf("edge properties: %s", a.Edges[0].Properties)
	}
	a = path(t, p, "from", "Kubernetes", "to", "Akosha")
	if a.Path[0].Entity != nil || a.Path[0].Name != "Kubernetes" {
		t.Errorf("dangling node: %s", mustJSON(a.Path[0]))
	}
	// Ends that name nothing are 404; an injection attempt is only a name.
	for _, kv := range [][]string{{"from", "Nowhere", "to", "Akosha"}, {"from", "Akosha", "to", "s1/e-missing"}, {"from", "' OR 1=1 --", "to", "Akosha"}} {
		st, _, body := getJSON[query.PathResponse](t, p, "/v1/graph/path", values(kv...))
		if st != 404 || !strings.Contains(body, "not_found") {
			t.Errorf("%v: %d %s", kv, st, body)
		}
	}
}

// A random graph, its distances computed by a plain BFS here: every
// answer's hop count must be the BFS distance (or not found beyond
// max_hops), and every path must be made of real relations.
func TestGraphPathMatchesBFS(t *testing.T) {
	p := startProcess(t, testenv.Local(t), query.Config{})
	rng := rand.New(rand.NewPCG(9, 9))
	const nodes = 30
	name := func(i int) string { return fmt.Sprintf("Node-%02d", i) }
	var ents []schemas.Entity
	for i := range nodes {
		// Some names exist in two systems: still one node.
		ents = append(ents, ent(fmt.Sprintf("r%d", i%3), fmt.Sprintf("n%d", i), name(i), "t"))
		if i%7 == 0 {
			ents = append(ents, ent("r9", fmt.Sprintf("dup%d", i), strings.ToLower(name(i)), "t"))
		}
	}
	type edge struct{ from, to int }
	var edges []edge
	var rels []schemas.Relation
	byID := map[string]edge{}
	for k := range 38 {
		e := edge{rng.IntN(nodes), rng.IntN(nodes)}
		edges = append(edges, e)
		sys := fmt.Sprintf("r%d", rng.IntN(3))
		r := rel(sys, fmt.Sprintf("x%d", k), name(e.from), "links", name(e.to))
		if sys == fmt.Sprintf("r%d", e.from%3) && k%2 == 0 {
			r.FromEntity = fmt.Sprintf("n%d", e.from) // by id, where the id is that system's
		}
		rels = append(rels, r)
		byID[sys+"/"+r.ID] = e
	}
	if _, err := p.lake.AppendEntities(ctxT(t), ents); err != nil {
		t.Fatal(err)
	}
	if _, err := p.lake.AppendRelations(ctxT(t), rels); err != nil {
		t.Fatal(err)
	}
	bfs := func(src int, directed bool) []int {
		dist := slices.Repeat([]int{-1}, nodes)
		dist[src] = 0
		queue := []int{src}
		for len(queue) > 0 {
			u := queue[0]
			queue = queue[1:]
			for _, e := range edges {
				for _, step := range [][2]int{{e.from, e.to}, {e.to, e.from}} {
					if directed && step != [2]int{e.from, e.to} {
						continue
					}
					if step[0] == u && dist[step[1]] < 0 {
						dist[step[1]] = dist[u] + 1
						queue = append(queue, step[1])
					}
				}
			}
		}
		return dist
	}
	const maxHops = 5
	seen := map[int]int{}
	for _, directed := range []bool{false, true} {
		src := rng.IntN(nodes)
		dist := bfs(src, directed)
		for dst := range nodes {
			a := path(t, p, "from", name(src), "to", name(dst), "max_hops", fmt.Sprint(maxHops), "directed", fmt.Sprint(directed))
			want := dist[dst]
			if want > maxHops {
				want = -1
			}
			seen[want]++
			got := -1
			if a.Found {
				got = *a.Hops
			}
			if got != want {
				t.Errorf("%s -> %s (directed %v): %d hops, want %d (%s)", name(src), name(dst), directed, got, want, pathSummary(a))
				continue
			}
			for i, e := range a.Edges {
				re, ok := byID[e.Relation.SystemID+"/"+e.Relation.ID]
				from, to := strings.ToLower(name(re.from)), strings.ToLower(name(re.to))
				if e.Direction == "in" {
					from, to = to, from
				}
				if !ok || from != a.Path[i].Node || to != a.Path[i+1].Node || (directed && e.Direction != "out") {
					t.Errorf("%s -> %s: hop %d %s does not match relation %v", name(src), name(dst), i, mustJSON(e), re)
				}
			}
		}
	}
	// The graph must exercise the search: several distances, and misses.
	if len(seen) < 4 {
		t.Errorf("distances seen: %v", seen)
	}
}

// mcpPost sends one JSON-RPC message to the query function's /mcp (the
// test server routes /mcp to the ingest function, as serve merges them).
func mcpPost(p *process, msg any) (int, []byte) {
	b, _ := json.Marshal(msg)
	rec := httptest.NewRecorder()
	p.query.Handle(rec, httptest.NewRequest("POST", "/mcp", bytes.NewReader(b)))
	return rec.Code, rec.Body.Bytes()
}

// mcpCall calls a tool over POST /mcp and returns the JSON-RPC result.
func mcpCall(t *testing.T, p *process, tool string, args any) map[string]any {
	t.Helper()
	st, body := mcpPost(p, map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call",
		"params": map[string]any{"name": tool, "arguments": args}})
	var out struct {
		Result map[string]any `json:"result"`
		Error  any            `json:"error"`
	}
	if err := json.Unmarshal(body, &out); err != nil || st != 200 || out.Error != nil {
		t.Fatalf("%s: %d %v %s", tool, st, err, body)
	}
	return out.Result
}

// as re-decodes an MCP answer's fields into an API type.
func as[T any](t *testing.T, m map[string]any) T {
	t.Helper()
	b, _ := json.Marshal(m)
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// The MCP tools answer what the REST routes answer, from the same
// arguments.
func TestAnalyticsAndGraphMCPTools(t *testing.T) {
	p := graphLake(t)
	var recs []schemas.Memory
	for sys, c := range map[string][]int{"sys-up": countsUp, "sys-down": countsDown, "sys-flat": countsFlat, "sys-noisy": countsNoisy} {
		recs = append(recs, series(sys, trendStart, day, c, nil)...)
	}
	if _, err := p.lake.AppendMemories(ctxT(t), recs); err != nil {
		t.Fatal(err)
	}
	st, body := mcpPost(p, map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
	for _, name := range []string{"search_all_systems", "analyze_trends", "detect_anomalies", "correlate_systems", "query_knowledge_graph", "find_path"} {
		if st != 200 || !strings.Contains(string(body), `"name":"`+name+`"`) {
			t.Errorf("tools/list lacks %s", name)
		}
	}

	// Trends: snake_case arguments, a list for system_id, numbers as numbers.
	res := mcpCall(t, p, "analyze_trends", map[string]any{"end": "2026-11-01", "window": "10d", "system_id": []string{"sys-up", "sys-down"}, "limit": 5, "min_points": 3})
	tr := as[query.TrendsResponse](t, res)
	_, rest, _ := getJSON[query.TrendsResponse](t, p, "/v1/analytics/trends", values("end", "2026-11-01", "window", "10d", "system_id", "sys-up,sys-down"))
	if res["isError"] != false || len(tr.Series) != 2 || len(rest.Series) != 2 {
		t.Fatalf("analyze_trends: %v", res)
	}
	for i := range tr.Series {
		slope, _, r2 := leastSquares(floats(map[string][]int{"sys-up": countsUp, "sys-down": countsDown}[tr.Series[i].Key]))
		if tr.Series[i].Key != rest.Series[i].Key || !near(*tr.Series[i].Slope, slope) || !near(*tr.Series[i].R2, r2) || *tr.Series[i].Direction != *rest.Series[i].Direction {
			t.Errorf("analyze_trends %s: %s", tr.Series[i].Key, mustJSON(tr.Series[i]))
		}
	}
	// Also as structuredContent and as text.
	if sc, ok := res["structuredContent"].(map[string]any); !ok || sc["status"] != "ok" {
		t.Errorf("structuredContent: %v", res["structuredContent"])
	}

	an := as[query.AnomaliesResponse](t, mcpCall(t, p, "detect_anomalies", map[string]any{"end": "2026-11-01", "window": "10d", "threshold": 1.5, "system_id": "sys-noisy"}))
	ys := floats(countsNoisy)
	mean, sd := meanSD(ys)
	var want []string
	for i, y := range ys {
		if math.Abs((y-mean)/sd) > 1.5 {
			want = append(want, trendStart.AddDate(0, 0, i).Format(time.RFC3339))
		}
	}
	var got []string
	for _, a := range an.Series[0].Anomalies {
		got = append(got, a.T)
	}
	if len(want) == 0 || !slices.Equal(got, want) || an.Threshold != 1.5 {
		t.Errorf("detect_anomalies: %v, want %v", got, want)
	}

	co := as[query.CorrelationsResponse](t, mcpCall(t, p, "correlate_systems", map[string]any{"end": "2026-11-01", "window": "10d", "min_abs": 0, "system_id": []string{"sys-up", "sys-down"}}))
	if len(co.Pairs) != 1 || co.Pairs[0].A != "sys-down" || !near(co.Pairs[0].R, pearson(floats(countsDown), floats(countsUp))) {
		t.Errorf("correlate_systems: %s", mustJSON(co))
	}

	kg := as[query.NeighboursResponse](t, mcpCall(t, p, "query_knowledge_graph", map[string]any{"system_id": "s2", "id": "ent-duck", "direction": "out"}))
	if !slices.Equal(summary(kg.Neighbours), []string{"out interops arrow (s2/q1) -> s2/ent-arrow", "out reads parquet (s1/r2) -> s1/e-parquet"}) {
		t.Errorf("query_knowledge_graph: %s", mustJSON(kg))
	}
	kg = as[query.NeighboursResponse](t, mcpCall(t, p, "query_knowledge_graph", map[string]any{"name": "Polars"}))
	if kg.Entity == nil || kg.Entity.ID != "ent-polars" || len(kg.Neighbours) != 1 {
		t.Errorf("query_knowledge_graph by name: %s", mustJSON(kg))
	}

	fp := as[query.PathResponse](t, mcpCall(t, p, "find_path", map[string]any{"from": "Akosha", "to": "s2/ent-polars", "max_hops": 3}))
	if pathSummary(fp) != "akosha -uses(s1/r1)> duckdb -interops(s2/q1)> arrow <uses(s2/q2)- polars" {
		t.Errorf("find_path: %s", pathSummary(fp))
	}
	fp = as[query.PathResponse](t, mcpCall(t, p, "find_path", map[string]any{"from": "Akosha", "to": "Polars", "directed": true}))
	if fp.Found {
		t.Errorf("find_path directed: %s", pathSummary(fp))
	}

	// Bad arguments are tool errors with the same messages as the 400s.
	for _, c := range []struct {
		tool string
		args any
		msg  string
	}{
		{"find_path", map[string]any{"from": "Akosha", "to": "Go", "max_hops": 0}, "max_hops"},
		{"find_path", map[string]any{"from": "Akosha"}, "to is required"},
		{"find_path", map[string]any{"from": "Nowhere", "to": "Go"}, "no entity or relation end"},
		{"detect_anomalies", map[string]any{"threshold": "NaN"}, "threshold"},
		{"analyze_trends", map[string]any{"system_id": "' OR 1=1 --"}, "system_id"},
		{"analyze_trends", map[string]any{"window": map[string]any{"days": 3}}, "window"},
		{"analyze_trends", []int{1}, "JSON object"},
		{"correlate_systems", map[string]any{"frobnicate": true}, "unknown parameter"},
		{"query_knowledge_graph", map[string]any{}, "give system_id and id, or name"},
		{"query_knowledge_graph", map[string]any{"system_id": "s1", "id": "e-missing"}, "no entity e-missing"},
	} {
		res := mcpCall(t, p, c.tool, c.args)
		if res["isError"] != true || !strings.Contains(fmt.Sprint(res["error"]), c.msg) {
			t.Errorf("%s %v: %v, want an error about %s", c.tool, c.args, res, c.msg)
		}
	}
	// CallTool, as akosha serve's merged /mcp uses it.
	if _, err := p.query.CallTool(nil, "no_such_tool", nil); err == nil {
		t.Error("an unknown tool answered")
	}
}
