// Package graph is the query function's knowledge graph across systems
// below HTTP: an entity's neighbours and the shortest path between two
// (GET /v1/graph/entities/{system_id}/{id}, GET /v1/graph/entities?name=...,
// GET /v1/graph/path, the MCP tools query_knowledge_graph and find_path,
// and `akosha graph`; issue 23, the package map in DESIGN.md). It speaks
// no HTTP: the query function decodes the request's parameters,
// authenticates, encodes answers and errors (a refused parameter is a
// *param.Error, made a 400 there; a node the graph does not hold is
// ErrNotFound, a 404), and calls this package.
//
// How it fits. An answer needs from the query function, and only from it,
// the entities and relations views at snapshots it pinned for that answer
// (Views): one statement at a time, run by DuckDB and confined there to
// the caller's tenant. This package never reads the lake but through them,
// so a graph never crosses into systems the caller may not see.
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
//
// What stays in functions/query, as the function's: the HTTP handlers
// (which name the entity by the path or by name), the MCP tools with their
// input schemas, the tenant scope and the snapshots the views read
// (graph.go there).
package graph

import (
	"context"
	"errors"
	"time"

	"github.com/akosha/akosha/functions/query/sqlresult"
)

// Views are the lake's tables at the snapshots the query function pinned
// for one answer: every statement of the answer reads the same ones, and
// the answer names their versions. The function confines what they show to
// the caller's tenant.
type Views interface {
	// Version is the version of table's pinned snapshot.
	Version(table string) int64
	// Query runs one statement over the views, returning at most limit
	// rows. Its error is returned as it is: the function gives it context
	// and its meaning for the caller.
	Query(ctx context.Context, sql string, limit int) (*sqlresult.Result, error)
}

// ErrNotFound is what the error of an entity, or a node, the graph does not
// hold is; its message says which.
var ErrNotFound = errors.New("not found")

type notFoundError string

func (e notFoundError) Error() string      { return string(e) }
func (notFoundError) Is(target error) bool { return target == ErrNotFound }

func elapsedMS(start time.Time) float64 { return float64(time.Since(start).Microseconds()) / 1000 }

// versions names the snapshots of the tables a graph reads.
func versions(views Views) map[string]int64 {
	return map[string]int64{"entities": views.Version("entities"), "relations": views.Version("relations")}
}
