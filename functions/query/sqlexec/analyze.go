package sqlexec

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// Predicate is a comparison of one view column with constants, which holds
// for every row a scan reads. Op is one of = in >= > <= <. Values are the
// constants as text ('2026-11-01', 'sys-a', 42).
type Predicate struct {
	Column string
	Op     string
	Values []string
}

// Scan is one reference to a view in a statement, with the predicates its
// rows must satisfy. No predicates means the reference may read any row.
//
// The lake uses scans to fetch only the files a statement can need: a file
// is needed when some scan of its view may read rows from it. Extracting
// predicates is conservative: only conjuncts of the WHERE clause of a SELECT
// that reads one view directly, comparing a column with constants, count;
// everything else (joins, OR, expressions) leaves the scan unrestricted.
type Scan struct {
	View       string
	Predicates []Predicate
}

// Analyze guards sql like Exec and returns the scans of the views it reads.
func (e *Engine) Analyze(ctx context.Context, sql string) ([]Scan, error) {
	if err := checkText(sql); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlexec: connection: %w", err)
	}
	defer conn.Close()
	chk, err := e.checked.guard(ctx, conn, sql)
	if err != nil {
		return nil, err
	}
	var a analyzer
	a.walk(chk.stmt, 0)
	return a.scans, nil
}

type analyzer struct {
	scans []Scan
}

func (a *analyzer) walk(v any, depth int) {
	if depth > maxTreeDepth {
		return
	}
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			a.walk(e, depth+1)
		}
	case map[string]any:
		skip := ""
		if x["type"] == "SELECT_NODE" {
			if from, ok := x["from_table"].(map[string]any); ok && from["type"] == "BASE_TABLE" {
				if view := strings.ToLower(str(from, "table_name")); tableColumns[view] != nil {
					names := map[string]bool{view: true}
					if alias := str(from, "alias"); alias != "" {
						names = map[string]bool{strings.ToLower(alias): true}
					}
					a.scans = append(a.scans, Scan{View: view, Predicates: conjuncts(x["where_clause"], names)})
					skip = "from_table"
				}
			}
		}
		if x["type"] == "BASE_TABLE" {
			if view := strings.ToLower(str(x, "table_name")); tableColumns[view] != nil {
				a.scans = append(a.scans, Scan{View: view})
			}
		}
		for k, child := range x {
			if k != skip {
				a.walk(child, depth+1)
			}
		}
	}
}

// conjuncts extracts the predicates of an AND-tree of comparisons; names
// are the ways a column of the scanned view may be qualified.
func conjuncts(v any, names map[string]bool) []Predicate {
	n, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	switch n["type"] {
	case "CONJUNCTION_AND":
		var out []Predicate
		children, _ := n["children"].([]any)
		for _, c := range children {
			out = append(out, conjuncts(c, names)...)
		}
		return out
	case "COMPARE_EQUAL", "COMPARE_GREATERTHAN", "COMPARE_GREATERTHANOREQUALTO", "COMPARE_LESSTHAN", "COMPARE_LESSTHANOREQUALTO":
		op := compareOps[n["type"].(string)]
		if col, ok := columnOf(n["left"], names); ok {
			if val, ok := constantOf(n["right"]); ok {
				return []Predicate{{Column: col, Op: op, Values: []string{val}}}
			}
		}
		if col, ok := columnOf(n["right"], names); ok {
			if val, ok := constantOf(n["left"]); ok {
				return []Predicate{{Column: col, Op: flipped[op], Values: []string{val}}}
			}
		}
	case "COMPARE_IN":
		children, _ := n["children"].([]any)
		if len(children) < 2 {
			return nil
		}
		col, ok := columnOf(children[0], names)
		if !ok {
			return nil
		}
		var vals []string
		for _, c := range children[1:] {
			val, ok := constantOf(c)
			if !ok {
				return nil
			}
			vals = append(vals, val)
		}
		return []Predicate{{Column: col, Op: "in", Values: vals}}
	case "COMPARE_BETWEEN":
		col, ok := columnOf(n["input"], names)
		if !ok {
			return nil
		}
		lo, okLo := constantOf(n["lower"])
		hi, okHi := constantOf(n["upper"])
		if okLo && okHi {
			return []Predicate{{Column: col, Op: ">=", Values: []string{lo}}, {Column: col, Op: "<=", Values: []string{hi}}}
		}
	}
	return nil
}

var compareOps = map[string]string{
	"COMPARE_EQUAL": "=", "COMPARE_GREATERTHAN": ">", "COMPARE_GREATERTHANOREQUALTO": ">=",
	"COMPARE_LESSTHAN": "<", "COMPARE_LESSTHANOREQUALTO": "<=",
}

// flipped is the operator with its sides swapped: 'a' < col is col > 'a'.
var flipped = map[string]string{"=": "=", ">": "<", ">=": "<=", "<": ">", "<=": ">="}

func columnOf(v any, names map[string]bool) (string, bool) {
	n, ok := v.(map[string]any)
	if !ok || n["class"] != "COLUMN_REF" {
		return "", false
	}
	parts, _ := n["column_names"].([]any)
	switch len(parts) {
	case 1:
		s, ok := parts[0].(string)
		return strings.ToLower(s), ok
	case 2:
		q, _ := parts[0].(string)
		s, ok := parts[1].(string)
		if !ok || !names[strings.ToLower(q)] {
			return "", false
		}
		return strings.ToLower(s), true
	}
	return "", false
}

// constantOf reads a constant, looking through casts ('2026-11-01'::DATE,
// DATE '2026-11-01'), which keep the text the comparison means.
func constantOf(v any) (string, bool) {
	n, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	switch n["class"] {
	case "CAST":
		if n["try_cast"] == true {
			return "", false
		}
		return constantOf(n["child"])
	case "CONSTANT":
		val, ok := n["value"].(map[string]any)
		if !ok || val["is_null"] == true {
			return "", false
		}
		switch x := val["value"].(type) {
		case string:
			return x, true
		case json.Number:
			return x.String(), true
		}
	}
	return "", false
}
