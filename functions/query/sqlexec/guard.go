package sqlexec

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// The guard decides whether a user statement may run. It is one of three
// layers, each of which alone would leave holes (DESIGN.md, "Configuration,
// security, observability"):
//
//  1. DuckDB's own parser, through json_serialize_sql, turns the text into
//     a tree. That function serializes SELECT statements only: COPY, ATTACH,
//     SET, PRAGMA, CREATE, EXPORT, ... fail right there. The guard requires
//     exactly one statement and walks the tree: the only relations are the
//     views memories, entities, relations (and CTEs in scope), the only table
//     functions a few that read no files (range, generate_series, unnest,
//     json_each, json_tree), and a few scalar functions that reveal or change
//     settings are refused.
//  2. Statements are prepared alone, with the driver's Prepare (which
//     refuses more than one statement and executes nothing; PrepareContext
//     and QueryContext would run all but the last), and go on only if the
//     prepared statement's type is SELECT: first the user's own text, for
//     its column names and types, then the statement that actually runs,
//     which is regenerated from the checked tree (json_deserialize_sql),
//     wrapped for the row limit, and checked by this guard once more.
//  3. The database is configured before any user statement can run:
//     enable_external_access = false with allowed_directories = the cache,
//     no extension installing or autoloading, lock_configuration = true.
//     That stops file, network and extension access even if the first two
//     layers were wrong, but not writes into the cache (COPY), ATTACH
//     ':memory:' or CREATE, which is why 1 and 2 exist.

// MaxSQLBytes bounds the text of a statement.
const MaxSQLBytes = 100 << 10

// Errors, to be told apart with errors.Is.
var (
	// ErrRefused: the sandbox does not allow the statement.
	ErrRefused = errors.New("sqlexec: statement refused")
	// ErrTooLarge: the statement's text is longer than MaxSQLBytes.
	ErrTooLarge = errors.New("sqlexec: statement too large")
	// ErrQuery: DuckDB rejected the statement (syntax, unknown column, ...)
	// or failed running it (a failed cast, out of memory, ...).
	ErrQuery = errors.New("sqlexec: query failed")
	// ErrTimeout: the statement ran longer than Config.Timeout.
	ErrTimeout = errors.New("sqlexec: statement timed out")
	// ErrBadRequest: the request itself is wrong (negative limit, unknown
	// view, a file outside the allowed directories): a caller bug.
	ErrBadRequest = errors.New("sqlexec: bad request")
)

func refuse(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}

// allowedTableFunctions read nothing but their arguments.
var allowedTableFunctions = map[string]bool{
	"range":           true,
	"generate_series": true,
	"unnest":          true,
	"json_each":       true,
	"json_tree":       true,
}

// deniedFunctions are scalar functions a user has no need for: they reveal
// the configuration (paths of the cache and the spill directory), write to
// the log, or touch sequences. getenv exists only in DuckDB's shell but is
// listed in case a build adds it.
var deniedFunctions = map[string]bool{
	"current_setting": true,
	"getenv":          true,
	"write_log":       true,
	"nextval":         true,
	"currval":         true,
}

// tableRefTypes are the FROM-clause items a statement may use. Others
// (COLUMN_DATA, DELIM_GET, a future kind) are refused.
var tableRefTypes = map[string]bool{
	"BASE_TABLE":      true,
	"JOIN":            true,
	"SUBQUERY":        true,
	"TABLE_FUNCTION":  true,
	"EXPRESSION_LIST": true,
	"EMPTY":           true,
	"EMPTY_FROM":      true,
	"PIVOT":           true,
	"SHOW_REF":        true,
}

// checkText refuses what need not reach the parser.
func checkText(sql string) error {
	switch {
	case len(sql) > MaxSQLBytes:
		return fmt.Errorf("%w: %d bytes; the limit is %d bytes", ErrTooLarge, len(sql), MaxSQLBytes)
	case strings.TrimSpace(sql) == "":
		return refuse("empty statement")
	case !utf8.ValidString(sql):
		return refuse("the statement is not valid UTF-8")
	case strings.IndexByte(sql, 0) >= 0:
		// DuckDB takes C strings: text after a NUL would be invisible to it
		// but not to anyone reading the request.
		return refuse("the statement contains a NUL byte")
	}
	return nil
}

// serializeSQL parses its parameter. The result is cast to VARCHAR so the
// driver hands over the JSON text instead of decoding it.
const serializeSQL = `SELECT CAST(json_serialize_sql(CAST($1 AS VARCHAR)) AS VARCHAR)`

// deserializeSQL renders a serialized statement back to SQL.
const deserializeSQL = `SELECT json_deserialize_sql(CAST($1 AS JSON))`

// serialized is json_serialize_sql's answer, decoded in one pass: the
// statements as generic trees (numbers kept as json.Number), which the
// guard walks and Analyze reads.
type serialized struct {
	Error        bool   `json:"error"`
	ErrorType    string `json:"error_type"`
	ErrorMessage string `json:"error_message"`
	Statements   []any  `json:"statements"`
}

// checked is a statement that passed the guard. It is shared through the
// engine's cache of checked statements, so nothing may modify it.
type checked struct {
	// tree is the serialized statement, which json_deserialize_sql turns
	// back into SQL.
	tree string
	// stmt is the one statement's tree, decoded.
	stmt any
	// views are the views the statement uses (so only they need defining).
	views map[string]bool
}

// guard parses text with DuckDB's parser and checks it.
func guard(ctx context.Context, q *sql.Conn, text string) (checked, error) {
	if err := checkText(text); err != nil {
		return checked{}, err
	}
	var out string
	if err := q.QueryRowContext(ctx, serializeSQL, text).Scan(&out); err != nil {
		return checked{}, fmt.Errorf("sqlexec: parse: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	var s serialized
	if err := dec.Decode(&s); err != nil {
		// DuckDB's own expression depth limit keeps real trees far below
		// the decoder's; a tree past it is refused, not failed.
		return checked{}, refuse("statement too complex to check: %v", err)
	}
	if s.Error {
		if strings.Contains(s.ErrorMessage, "Only SELECT statements") {
			return checked{}, refuse("only SELECT statements are allowed")
		}
		return checked{}, fmt.Errorf("%w: %s", ErrQuery, s.ErrorMessage)
	}
	switch len(s.Statements) {
	case 0:
		return checked{}, refuse("empty statement")
	case 1:
	default:
		return checked{}, refuse("exactly one statement is allowed, found %d", len(s.Statements))
	}
	views, err := walkTree(s.Statements[0])
	if err != nil {
		return checked{}, err
	}
	return checked{tree: out, stmt: s.Statements[0], views: views}, nil
}

// guardCacheSize bounds the engine's cache of checked statements.
const guardCacheSize = 256

// guardCache keeps recently checked statements by their text: a query is
// analysed (to prune files) and then run, and dashboards repeat the same
// statements, so the parse and the walk are done once. Only statements
// that passed are kept; the text alone decides the answer (the parser
// and the rules are fixed for the engine's life).
type guardCache struct {
	mu     sync.Mutex
	byText map[string]checked
}

// guard is guard through the cache.
func (c *guardCache) guard(ctx context.Context, q *sql.Conn, text string) (checked, error) {
	c.mu.Lock()
	chk, ok := c.byText[text]
	c.mu.Unlock()
	if ok {
		return chk, nil
	}
	chk, err := guard(ctx, q, text)
	if err != nil {
		return chk, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byText == nil || len(c.byText) >= guardCacheSize {
		// Dropping all is enough to bound it: a working set this small
		// refills at once.
		c.byText = make(map[string]checked, guardCacheSize)
	}
	c.byText[text] = chk
	return chk, nil
}

// maxTreeDepth bounds the walk; DuckDB's own expression depth limit (1000)
// keeps real trees far below it.
const maxTreeDepth = 5000

// walkTree walks one decoded statement and returns the views it uses.
func walkTree(tree any) (map[string]bool, error) {
	w := walker{views: map[string]bool{}}
	if err := w.walk(tree, nil, false, 0); err != nil {
		return nil, err
	}
	return w.views, nil
}

// walker walks a statement tree.
type walker struct {
	views map[string]bool // views referenced
}

// scope holds the CTE names visible at a point of the tree.
type scope struct {
	names  map[string]bool
	parent *scope
}

func (s *scope) has(name string) bool {
	for ; s != nil; s = s.parent {
		if s.names[name] {
			return true
		}
	}
	return false
}

// walk checks v and everything under it. fromSlot says v stands where a
// FROM-clause item must be.
func (w *walker) walk(v any, sc *scope, fromSlot bool, depth int) error {
	if depth > maxTreeDepth {
		return refuse("statement nested too deeply")
	}
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if err := w.walk(e, sc, false, depth+1); err != nil {
				return err
			}
		}
	case map[string]any:
		return w.walkNode(x, sc, fromSlot, depth)
	}
	return nil
}

func (w *walker) walkNode(n map[string]any, sc *scope, fromSlot bool, depth int) error {
	typ, _ := n["type"].(string)
	if fromSlot && !tableRefTypes[typ] {
		return refuse("%s is not allowed in FROM", strings.ToLower(strings.ReplaceAll(typ, "_", " ")))
	}
	switch typ {
	case "BASE_TABLE":
		if err := w.checkTable(n, sc); err != nil {
			return err
		}
	case "TABLE_FUNCTION":
		if err := checkTableFunction(n); err != nil {
			return err
		}
	case "SHOW_REF":
		// DESCRIBE and SUMMARIZE of a query carry the query, which is
		// walked below; SHOW TABLES and friends name the catalog instead.
		if _, ok := n["query"].(map[string]any); !ok || str(n, "table_name") != "" {
			return refuse("SHOW is not allowed; DESCRIBE or SUMMARIZE a query instead")
		}
	case "COLUMN_DATA", "DELIM_GET", "BOUND_TABLE_REF", "CTE":
		return refuse("%s references are not allowed", strings.ToLower(typ))
	}
	switch str(n, "class") {
	case "FUNCTION":
		if name := strings.ToLower(str(n, "function_name")); deniedFunctions[name] {
			return refuse("function %s is not allowed", name)
		}
	case "PARAMETER":
		return refuse("parameters ($1, ?) are not supported")
	}

	if cm, ok := n["cte_map"]; ok {
		inner, err := w.walkCTEs(cm, sc, depth)
		if err != nil {
			return err
		}
		sc = inner
	}
	// Sorted keys make the first violation reported the same every time.
	for _, key := range slices.Sorted(maps.Keys(n)) {
		if key == "cte_map" {
			continue
		}
		child := n[key]
		slot := key == "from_table" ||
			(typ == "JOIN" && (key == "left" || key == "right")) ||
			(typ == "PIVOT" && key == "source")
		if err := w.walk(child, sc, slot, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// walkCTEs checks the CTE bodies of a query node, each seeing the CTEs
// defined before it, and itself only when it is recursive (DuckDB parses
// a CTE that refers to itself under WITH RECURSIVE as a RECURSIVE_CTE_NODE;
// anywhere else its own name inside its body is the catalog's), and
// returns the scope of the node's own body, which sees them all. Scoping
// matters: a name outside the WITH that defines it would reach the catalog
// (the system views duckdb_views, duckdb_databases, ...): "WITH
// duckdb_views AS (FROM duckdb_views) ..." reads the system view.
func (w *walker) walkCTEs(cm any, sc *scope, depth int) (*scope, error) {
	m, ok := cm.(map[string]any)
	if !ok {
		return nil, refuse("unexpected WITH clause structure")
	}
	entries, _ := m["map"].([]any)
	if _, present := m["map"]; present && entries == nil {
		return nil, refuse("unexpected WITH clause structure")
	}
	inner := &scope{names: map[string]bool{}, parent: sc}
	for _, e := range entries {
		em, ok := e.(map[string]any)
		if !ok {
			return nil, refuse("unexpected WITH clause structure")
		}
		name, ok := em["key"].(string)
		if !ok {
			return nil, refuse("unexpected WITH clause structure")
		}
		if recursiveCTE(em["value"]) {
			inner.names[strings.ToLower(name)] = true
		}
		if err := w.walk(em["value"], inner, false, depth+1); err != nil {
			return nil, err
		}
		inner.names[strings.ToLower(name)] = true
	}
	return inner, nil
}

// recursiveCTE reports whether a cte_map value is a recursive CTE, whose
// body may name itself.
func recursiveCTE(v any) bool {
	m, _ := v.(map[string]any)
	q, _ := m["query"].(map[string]any)
	n, _ := q["node"].(map[string]any)
	return str(n, "type") == "RECURSIVE_CTE_NODE"
}

func (w *walker) checkTable(n map[string]any, sc *scope) error {
	name := str(n, "table_name")
	if str(n, "catalog_name") != "" || str(n, "schema_name") != "" {
		return refuse("relation %s is not allowed; query the views memories, entities and relations",
			qualified(str(n, "catalog_name"), str(n, "schema_name"), name))
	}
	if n["at_clause"] != nil {
		return refuse("AT (time travel) is not supported")
	}
	lower := strings.ToLower(name)
	if sc.has(lower) {
		return nil
	}
	if tableColumns[lower] != nil {
		w.views[lower] = true
		return nil
	}
	return refuse("relation %q is not allowed; query the views memories, entities and relations", name)
}

func checkTableFunction(n map[string]any) error {
	fn, ok := n["function"].(map[string]any)
	if !ok {
		return refuse("unexpected table function structure")
	}
	name := strings.ToLower(str(fn, "function_name"))
	if str(fn, "catalog") != "" || str(fn, "schema") != "" || !allowedTableFunctions[name] {
		return refuse("table function %s is not allowed; only range, generate_series, unnest, json_each and json_tree are", name)
	}
	return nil
}

func str(n map[string]any, key string) string {
	s, _ := n[key].(string)
	return s
}

func qualified(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ".")
}
