// Package sqlresult is the shape of a SQL answer (Result, its Columns,
// and Row to read one back) and the quoting of literals, apart from the
// engine (sqlexec) that makes answers: analytics and the knowledge graph
// build statements and read their answers without linking DuckDB.
package sqlresult

import "strings"

// Result is the answer to one statement, ready for JSON: encoding/json
// writes it as api/openapi.yaml's /v1/sql answer (without version and elapsed_ms,
// which the caller knows).
type Result struct {
	Columns []Column `json:"columns"`
	// Rows hold values converted for JSON (see convert): nil, bool, int64,
	// uint64, float32, float64, json.Number (HUGEINT, DECIMAL), string
	// (text, timestamps as RFC 3339 UTC, DATE as YYYY-MM-DD, TIME, INTERVAL
	// as ISO 8601, UUID, non-finite floats as "NaN", "Infinity",
	// "-Infinity"), json.RawMessage (JSON, STRUCT and MAP values, as
	// objects in their column order), []byte (BLOB, written as base64),
	// []float32 or []float64 (lists of finite floats, such as embeddings)
	// and []any (other lists and arrays).
	Rows     [][]any `json:"rows"`
	RowCount int     `json:"row_count"`
	// Truncated says that the statement had more rows than the limit.
	Truncated bool `json:"truncated"`
}

// Column is a result column: its name and its DuckDB type as typeof
// spells it (VARCHAR, TIMESTAMP WITH TIME ZONE, FLOAT[384], DATE, JSON).
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Quote quotes an SQL string literal. DuckDB string literals have no
// backslash escapes, so doubling the quote is all.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// QuoteAll quotes each of vals, comma-separated, for an IN list.
func QuoteAll(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = Quote(v)
	}
	return strings.Join(q, ", ")
}
