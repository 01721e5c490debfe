package sqlexec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/akosha/akosha/schemas"
)

// FuzzGuard feeds arbitrary text to the guard. It must not panic or hang,
// and whatever it accepts must prepare as one SELECT whose tables (as
// DuckDB's own parser lists them) are only the views. Accepted statements
// are prepared, not run, so that a mutation cannot make the fuzzer
// allocate without bound.
func FuzzGuard(f *testing.F) {
	fx := newFixture(f, Config{Timeout: 5 * time.Second})
	for _, h := range hostileStatements {
		if len(h.sql) < 1000 {
			f.Add(fx.expand(h.sql))
		}
	}
	for _, s := range tenantStatements { // confine_test.go
		f.Add(fx.expand(s))
	}
	for _, s := range []string{
		"SELECT * FROM memories",
		"WITH t AS (SELECT id FROM memories) SELECT * FROM t JOIN entities USING (id)",
		"FROM relations SELECT count(*)",
		"SELECT * FROM range(3) t(x), unnest([1, 2])",
		"DESCRIBE memories",
		"SELECT (SELECT max(created_at) FROM entities) AS latest",
		"SELECT * FROM (WITH a AS (SELECT 1) SELECT * FROM a) x, memories",
		"VALUES (1), (2) UNION ALL SELECT 3",
		"SELECT 'it''s' AS \"a \"\"b\"\"\" -- c\n",
	} {
		f.Add(s)
	}
	ctx := context.Background()
	conn, err := fx.engine.db.Conn(ctx)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { conn.Close() })
	for _, name := range viewNames {
		if _, err := conn.ExecContext(ctx, viewSQL(name, fx.views[name])); err != nil {
			f.Fatal(err)
		}
	}

	f.Fuzz(func(t *testing.T, text string) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		start := time.Now()
		chk, err := guard(ctx, conn, text)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("guard(%q) took %v", text, d)
		}
		if err != nil {
			if !errors.Is(err, ErrRefused) && !errors.Is(err, ErrQuery) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("guard(%q): unexpected error kind: %v", text, err)
			}
			return
		}
		var canonical string
		if err := conn.QueryRowContext(ctx, deserializeSQL, chk.tree).Scan(&canonical); err != nil {
			return // DuckDB cannot render every tree; Exec reports it
		}
		if _, err := guard(ctx, conn, canonical); err != nil && !errors.Is(err, ErrQuery) {
			t.Fatalf("accepted %q, but not its rendering %q: %v", text, canonical, err)
		}
		err = withStmt(conn, canonical, func(*duckdb.Stmt) error { return nil })
		if errors.Is(err, ErrRefused) {
			t.Fatalf("accepted %q, which does not prepare as one SELECT: %v", text, err)
		}
		names, err := duckdb.GetTableNames(conn, canonical, true)
		if err != nil {
			return
		}
		for _, n := range names {
			if !slices.Contains(viewNames, n) {
				t.Fatalf("accepted %q, which references %q", text, n)
			}
		}
	})
}

func TestGuardStructure(t *testing.T) {
	// Trees DuckDB does not make today, checked deny-by-default.
	tests := []struct {
		tree, want string
	}{
		{`{"node":{"type":"SELECT_NODE","from_table":{"type":"COLUMN_DATA"}}}`, "column data is not allowed in FROM"},
		{`{"node":{"type":"SELECT_NODE","from_table":{"type":"SOMETHING_NEW"}}}`, "something new is not allowed in FROM"},
		{`{"node":{"type":"SELECT_NODE","from_table":{"type":"JOIN","left":{"type":"BASE_TABLE","table_name":"memories"},"right":{"type":"NEW_REF"}}}}`, "new ref is not allowed"},
		{`{"node":{"type":"SELECT_NODE","cte_map":{"map":"x"}}}`, "unexpected WITH clause"},
		{`{"node":{"type":"SELECT_NODE","cte_map":[1]}}`, "unexpected WITH clause"},
		{`{"node":{"type":"SELECT_NODE","from_table":{"type":"TABLE_FUNCTION","function":"range"}}}`, "unexpected table function"},
		{`{"node":{"type":"SELECT_NODE","from_table":{"type":"TABLE_FUNCTION","function":{"function_name":"range","schema":"main"}}}}`, "table function range"},
		{`{"x":{"type":"DELIM_GET"}}`, "delim_get references"},
		{strings.Repeat(`[`, 6000) + strings.Repeat(`]`, 6000), "too"},
	}
	for _, tt := range tests {
		_, err := checkTree(json.RawMessage(tt.tree))
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%.60s: %v, want %q", tt.tree, err, tt.want)
		}
	}
}

// TestTableColumnsMatchSchemas keeps the views in step with the lake's
// Delta schemas: the same columns in the same order, except the storage
// form of warm and cold embeddings, which the views dequantize into
// embedding.
func TestTableColumnsMatchSchemas(t *testing.T) {
	for _, table := range []string{schemas.TableMemories, schemas.TableEntities, schemas.TableRelations} {
		s, err := schemas.DeltaSchemaString(table)
		if err != nil {
			t.Fatal(err)
		}
		var schema struct {
			Fields []struct {
				Name string `json:"name"`
			} `json:"fields"`
		}
		if err := json.Unmarshal([]byte(s), &schema); err != nil {
			t.Fatal(err)
		}
		var want, got []string
		for _, f := range schema.Fields {
			if f.Name != "embedding_i8" && f.Name != "embedding_scale" {
				want = append(want, f.Name)
			}
		}
		for _, c := range TableColumns(table) {
			got = append(got, c.Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: view columns %v, Delta schema %v", table, got, want)
		}
	}
	if TableColumns("secrets") != nil {
		t.Error("TableColumns of an unknown table")
	}
}

func TestParseType(t *testing.T) {
	for _, s := range []string{
		"INTEGER", "TIMESTAMP WITH TIME ZONE", "TIME WITH TIME ZONE", "FLOAT[384]", "VARCHAR[][]",
		"DECIMAL(38,3)", "MAP(VARCHAR, INTEGER[])", `STRUCT(a INTEGER, "b c" TIMESTAMP WITH TIME ZONE[], "Q" VARCHAR)`,
		"UNION(num INTEGER, str VARCHAR)", "JSON", `"NULL"`, "STRUCT(x STRUCT(y MAP(DATE, JSON[2])))",
	} {
		typ, err := parseType(s)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if got := typ.String(); got != s {
			t.Errorf("parse(%s).String() = %s", s, got)
		}
	}
	aliases := map[string]string{
		"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE", "int": "INTEGER", "text[]": "VARCHAR[]",
		"DECIMAL": "DECIMAL(18,3)", "NUMERIC(10)": "DECIMAL(10,0)", "VARCHAR(20)": "VARCHAR",
		"ENUM('a', 'it''s)')": "ENUM", "timestamp": "TIMESTAMP",
	}
	for in, want := range aliases {
		typ, err := parseType(in)
		if err != nil || typ.String() != want {
			t.Errorf("parse(%s) = %v, %v; want %s", in, typ, err, want)
		}
	}
	for _, bad := range []string{"", "STRUCT(", "MAP(INTEGER)", "INTEGER[", "INTEGER[x]", "DECIMAL(1,", `STRUCT("a`, "ENUM('a'", strings.Repeat("STRUCT(a ", 100)} {
		if typ, err := parseType(bad); err == nil {
			t.Errorf("parse(%q) = %v, want an error", bad, typ)
		}
	}
}

func FuzzParseType(f *testing.F) {
	for _, s := range []string{"INTEGER", "STRUCT(a INTEGER[3], \"b\" MAP(VARCHAR, JSON))", "DECIMAL(10,2)[]", "ENUM('x')"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		typ, err := parseType(s)
		if err != nil {
			return
		}
		// What parses, renders, and renders to something that parses the
		// same (a type name a Parquet writer can rely on).
		again, err := parseType(typ.String())
		if err != nil || again.String() != typ.String() {
			t.Fatalf("%q -> %q -> %v, %v", s, typ.String(), again, err)
		}
		_ = WriteParquet(discard{}, &Result{Columns: []Column{{Name: "c", Type: s}}, Rows: [][]any{{nil}, {"x"}}})
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// The engine keeps what passed the guard by its text (a query is analysed
// and then run), and only that: a refused statement is refused again, and
// the cache stays bounded.
func TestGuardCacheKeepsOnlyWhatPassed(t *testing.T) {
	fx := newFixture(t, Config{Timeout: 5 * time.Second})
	ctx := context.Background()
	conn, err := fx.engine.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var c guardCache
	first, err := c.guard(ctx, conn, "SELECT id FROM memories")
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.guard(ctx, conn, "SELECT id FROM memories")
	if err != nil || again.tree != first.tree || !again.views["memories"] || len(c.byText) != 1 {
		t.Fatalf("second check: %v, views %v, %d kept", err, again.views, len(c.byText))
	}
	for range 2 {
		if _, err := c.guard(ctx, conn, "SELECT * FROM read_parquet('/etc/passwd')"); !errors.Is(err, ErrRefused) {
			t.Fatalf("hostile statement: %v", err)
		}
	}
	if len(c.byText) != 1 {
		t.Fatalf("a refusal was kept: %d entries", len(c.byText))
	}
	for i := range guardCacheSize + 10 {
		if _, err := c.guard(ctx, conn, fmt.Sprintf("SELECT %d AS x", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.byText); n > guardCacheSize {
		t.Fatalf("%d entries kept, bound %d", n, guardCacheSize)
	}
}

// checkTree decodes one serialized statement as guard does and walks it.
func checkTree(raw json.RawMessage) (map[string]bool, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, refuse("statement too complex to check: %v", err)
	}
	return walkTree(tree)
}
