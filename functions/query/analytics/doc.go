// Package analytics is the query function's analytics below HTTP: the
// trend, anomalies and correlations of activity series over the lake (GET
// /v1/analytics/trends, /anomalies, /correlations, the MCP tools
// analyze_trends, detect_anomalies and correlate_systems, and `akosha
// analytics`; issue 23, the package map in DESIGN.md). It speaks no HTTP:
// the query function decodes the request's parameters, authenticates,
// encodes answers and errors (a refused parameter is a *param.Error, made
// a 400 there), and calls this package.
//
// How it fits. An answer needs from the query function, and only from it,
// the tables' views at snapshots it pinned for that answer (Views): one
// statement at a time, run by DuckDB through the same planner as POST
// /v1/sql, and confined there to the caller's tenant. This package never
// reads the lake but through them, so it cannot widen what a caller sees.
//
// Every figure is computed by DuckDB over the views, so only the files of
// the window (and of the systems asked for) are fetched and no process
// ever holds the rows. The statements share one shape:
//
//	src     the rows of the metric's table in the window [from, to), with
//	        the series key (system_id, project or 'all') and created_at;
//	        constant predicates only, so partitions and files are pruned
//	keys    the series kept: the most active `limit` keys in the window
//	counts  rows per (key, bucket index), by integer division of the
//	        microseconds since the window's start
//	series  every (key, bucket) of the window with its count, zero where
//	        nothing happened: a quiet day is a data point, not a gap, and
//	        leaving it out would bend every slope and correlation
//
// and then aggregate it: regr_slope / regr_intercept / regr_r2 against the
// bucket index (trends), avg and stddev_samp over the series with the
// points' z-scores (anomalies), corr over a self-join on the bucket
// (correlations). Go only reads the aggregates and names them: the
// direction of a trend, its percent change and a correlation's p-value
// (Student's t, internal/stats) are arithmetic on one row.
//
// Windows are whole buckets in UTC: `end` (exclusive, default now) is
// rounded down to a bucket boundary, so by default the bucket in progress,
// which would read as a drop, is left out.
//
// What stays in functions/query, as the function's: the HTTP handlers and
// the MCP tools with their input schemas, the tenant scope and the
// snapshots the views read (analytics.go there).
package analytics

import (
	"context"
	"time"

	"github.com/akosha/akosha/functions/query/sqlresult"
)

// Views are the lake's tables at the snapshots the query function pinned
// for one answer: every statement of the answer reads the same ones, and
// the answer names their version. The function confines what they show to
// the caller's tenant.
type Views interface {
	// Version is the version of table's pinned snapshot.
	Version(table string) int64
	// Query runs one statement over the views, returning at most limit
	// rows. Its error is returned as it is: the function gives it context
	// and its meaning for the caller (a statement of this package that
	// fails is the function's failure, not the caller's, since the
	// parameters were validated and quoted; a timeout says the lake is too
	// large for the window).
	Query(ctx context.Context, sql string, limit int) (*sqlresult.Result, error)
}

func elapsedMS(start time.Time) float64 { return float64(time.Since(start).Microseconds()) / 1000 }
