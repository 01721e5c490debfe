package sqlexec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hostileStatements are statements a user must not be able to run. Each
// is refused with a clear error (the message must contain want) and has no
// effect. {cache}, {file}, {temp} and {outside} stand for the cache
// directory, a data file in it, the spill directory and a directory
// outside both.
var hostileStatements = []struct {
	sql  string
	want string // part of the error message
	err  error  // nil: ErrRefused
}{
	// Writing files.
	{sql: "COPY (SELECT * FROM memories) TO '{outside}/x.csv'", want: "only SELECT"},
	{sql: "COPY (SELECT 1 AS x) TO '{file}' (FORMAT parquet)", want: "only SELECT"},
	{sql: "COPY memories TO '{temp}/x.parquet' (FORMAT parquet)", want: "only SELECT"},
	{sql: "COPY memories FROM '/etc/passwd'", want: "only SELECT"},
	{sql: "EXPORT DATABASE '{outside}/exp'", want: "only SELECT"},
	{sql: "IMPORT DATABASE '{outside}/exp'", want: "only SELECT"},
	// Other databases.
	{sql: "ATTACH ':memory:' AS m", want: "only SELECT"},
	{sql: "ATTACH '{outside}/x.db' AS x", want: "only SELECT"},
	{sql: "ATTACH '{cache}/x.db' AS x", want: "only SELECT"},
	{sql: "DETACH m", want: "only SELECT"},
	{sql: "USE m", want: "only SELECT"},
	// Extensions.
	{sql: "INSTALL httpfs", want: "only SELECT"},
	{sql: "LOAD httpfs", want: "only SELECT"},
	{sql: "LOAD '{cache}/evil.duckdb_extension'", want: "only SELECT"},
	{sql: "FORCE INSTALL vss FROM community", want: "only SELECT"},
	// Settings.
	{sql: "SET memory_limit = '100GB'", want: "only SELECT"},
	{sql: "SET GLOBAL enable_external_access = true", want: "only SELECT"},
	{sql: "SET GLOBAL threads = 64", want: "only SELECT"},
	{sql: "RESET memory_limit", want: "only SELECT"},
	{sql: "SET VARIABLE x = 1", want: "only SELECT"},
	{sql: "PRAGMA memory_limit = '10GB'", want: "only SELECT"},
	{sql: "PRAGMA database_list", want: "only SELECT"},
	{sql: "CALL pragma_version()", want: "only SELECT"},
	{sql: "CREATE SECRET (TYPE s3, KEY_ID 'k', SECRET 's')", want: "only SELECT"},
	// Catalog and data changes.
	{sql: "CREATE TABLE t AS SELECT 1", want: "only SELECT"},
	{sql: "CREATE TEMP TABLE t AS SELECT 1", want: "only SELECT"},
	{sql: "CREATE MACRO m(x) AS x", want: "only SELECT"},
	{sql: "CREATE OR REPLACE TEMP VIEW memories AS SELECT 1", want: "only SELECT"},
	{sql: "DROP VIEW memories", want: "only SELECT"},
	{sql: "ALTER VIEW memories RENAME TO m2", want: "only SELECT"},
	{sql: "INSERT INTO memories (id) VALUES ('x')", want: "only SELECT"},
	{sql: "UPDATE memories SET content = 'x'", want: "only SELECT"},
	{sql: "DELETE FROM memories", want: "only SELECT"},
	{sql: "PREPARE p AS SELECT 1", want: "only SELECT"},
	{sql: "EXECUTE p", want: "only SELECT"},
	{sql: "EXPLAIN ANALYZE SELECT 1", want: "only SELECT"},
	{sql: "PIVOT memories ON kind", want: "only SELECT"}, // without IN it creates a type first
	// Transactions and storage.
	{sql: "BEGIN TRANSACTION", want: "only SELECT"},
	{sql: "COMMIT", want: "only SELECT"},
	{sql: "ROLLBACK", want: "only SELECT"},
	{sql: "CHECKPOINT", want: "only SELECT"},
	{sql: "VACUUM", want: "only SELECT"},
	// More than one statement, however it is dressed.
	{sql: "SELECT 1; SELECT 2", want: "exactly one statement"},
	{sql: "SELECT 1; COPY (SELECT 1) TO '{outside}/y.csv'", want: "only SELECT"},
	{sql: "COPY (SELECT 1) TO '{outside}/z.csv'; SELECT 1", want: "only SELECT"},
	{sql: "SELECT 1 -- hidden\n; ATTACH ':memory:' AS m", want: "only SELECT"},
	{sql: "/* SELECT */ ATTACH ':memory:' AS m -- SELECT", want: "only SELECT"},
	{sql: "SELECT 1;\n;\nSELECT 2;", want: "exactly one statement"},
	{sql: "SELECT '\u202e;)1 TCELES' ; COPY (SELECT 1) TO '{outside}/rtl.csv'", want: "only SELECT"},
	{sql: "SELECT 1\x00; COPY (SELECT 1) TO '{outside}/nul.csv'", want: "NUL"},
	// Files, by table function.
	{sql: "SELECT * FROM read_text('/etc/passwd')", want: "table function read_text"},
	{sql: "SELECT * FROM read_csv('/etc/passwd')", want: "table function read_csv"},
	{sql: "SELECT * FROM read_csv_auto('{outside}/x.csv')", want: "table function read_csv_auto"},
	{sql: "SELECT * FROM read_parquet('{file}')", want: "table function read_parquet"},
	{sql: "SELECT * FROM parquet_scan('{file}')", want: "table function parquet_scan"},
	{sql: "SELECT * FROM parquet_metadata('{file}')", want: "table function parquet_metadata"},
	{sql: "SELECT * FROM parquet_schema('{file}')", want: "table function parquet_schema"},
	{sql: "SELECT * FROM read_blob('{file}')", want: "table function read_blob"},
	{sql: "SELECT * FROM read_json_auto('{cache}/x.json')", want: "table function read_json_auto"},
	{sql: "SELECT * FROM read_ndjson('/etc/passwd')", want: "table function read_ndjson"},
	{sql: "SELECT * FROM sniff_csv('/etc/passwd')", want: "table function sniff_csv"},
	{sql: "SELECT * FROM glob('*')", want: "table function glob"},
	{sql: "SELECT * FROM glob('{cache}/**')", want: "table function glob"},
	{sql: "SELECT * FROM read_text(['/etc/passwd', '{file}'])", want: "table function read_text"},
	{sql: "SELECT (SELECT content FROM read_text('/etc/passwd'))", want: "table function read_text"},
	{sql: "SELECT * FROM memories WHERE id IN (SELECT file FROM glob('/*'))", want: "table function glob"},
	{sql: "SELECT * FROM range(1) t, LATERAL (SELECT * FROM read_text('/etc/hostname'))", want: "table function read_text"},
	{sql: "FROM (VALUES ('/etc/passwd')) v(p), read_text(v.p)", want: "table function read_text"},
	{sql: "FROM read_text('/etc/passwd') SELECT *", want: "table function read_text"},
	{sql: "SELECT id FROM memories UNION ALL SELECT content FROM read_text('/etc/passwd')", want: "table function read_text"},
	{sql: "SUMMARIZE SELECT * FROM read_text('/etc/passwd')", want: "table function read_text"},
	{sql: "SELECT * FROM (PIVOT read_text('/etc/passwd') ON filename IN ('x') USING count(*))", want: "table function read_text"},
	{sql: "SELECT * FROM (UNPIVOT (FROM read_csv('/etc/passwd')) ON COLUMNS(*))", want: "table function read_csv"},
	// Files, by replacement scan.
	{sql: "FROM '/etc/passwd'", want: `relation "/etc/passwd"`},
	{sql: "SELECT * FROM '{file}'", want: "is not allowed"},
	{sql: "SELECT * FROM 'x.parquet'", want: `relation "x.parquet"`},
	{sql: "SELECT * FROM \"{outside}/x.csv\"", want: "is not allowed"},
	{sql: "DESCRIBE '/etc/passwd'", want: `relation "/etc/passwd"`},
	{sql: "SUMMARIZE '{file}'", want: "is not allowed"},
	// Statements in strings.
	{sql: "SELECT * FROM query('SELECT * FROM read_text(''/etc/passwd'')')", want: "table function query"},
	{sql: "SELECT * FROM query_table('memories')", want: "table function query_table"},
	{sql: "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))", want: "table function json_execute_serialized_sql"},
	// Settings, secrets and the catalog.
	// A CTE's own name inside its body is the catalog's, unless recursive
	// (found by FuzzGuard: "WITH A AS(FROM A)FROM A").
	{sql: "WITH duckdb_views AS (FROM duckdb_views) SELECT sql FROM duckdb_views", want: `relation "duckdb_views"`},
	{sql: "WITH x AS (SELECT 1), duckdb_databases AS (FROM duckdb_databases) FROM duckdb_databases", want: `relation "duckdb_databases"`},
	{sql: "SELECT getenv('HOME')", want: "function getenv"},
	{sql: "SELECT current_setting('allowed_directories')", want: "function current_setting"},
	{sql: "SELECT system.main.current_setting('temp_directory')", want: "function current_setting"},
	{sql: "SELECT write_log('x')", want: "function write_log"},
	{sql: "SELECT * FROM duckdb_settings()", want: "table function duckdb_settings"},
	{sql: "SELECT * FROM duckdb_settings", want: `relation "duckdb_settings"`},
	{sql: "SELECT * FROM duckdb_secrets()", want: "table function duckdb_secrets"},
	{sql: "SELECT * FROM duckdb_extensions()", want: "table function duckdb_extensions"},
	{sql: "SELECT * FROM pragma_table_info('memories')", want: "table function pragma_table_info"},
	{sql: "SELECT * FROM information_schema.tables", want: "information_schema.tables"},
	{sql: "SELECT * FROM system.main.duckdb_settings", want: "system.main.duckdb_settings"},
	{sql: "SELECT * FROM sqlite_master", want: `relation "sqlite_master"`},
	{sql: "SELECT * FROM temp.main.memories", want: "temp.main.memories"},
	{sql: "SHOW TABLES", want: "SHOW is not allowed"},
	{sql: "SHOW ALL TABLES", want: "SHOW is not allowed"},
	{sql: "SELECT * FROM memories AT (VERSION => 1)", want: "time travel"},
	// A CTE name used outside the WITH that defines it reaches the catalog.
	{sql: "SELECT * FROM (WITH duckdb_settings AS (SELECT 1) SELECT * FROM duckdb_settings), duckdb_settings", want: `relation "duckdb_settings"`},
	{sql: "WITH a AS (SELECT * FROM duckdb_settings), duckdb_settings AS (SELECT 1) SELECT * FROM a", want: `relation "duckdb_settings"`},
	// Parameters.
	{sql: "SELECT $1", want: "parameters"},
	{sql: "SELECT ?", want: "parameters"},
	// Unicode tricks: look-alike keywords and names.
	{sql: "ＣＯＰＹ (SELECT 1) TO '{outside}/w.csv'", err: ErrQuery, want: "syntax error"},
	{sql: "CO\u200bPY (SELECT 1) TO '{outside}/zw.csv'", err: ErrQuery, want: "syntax error"},
	{sql: "SELECT 1；COPY (SELECT 1) TO '{outside}/semi.csv'", err: ErrQuery, want: "syntax error"},
	{sql: "SELECT * FROM memorіes", want: `relation "memorіes"`}, // Cyrillic і
	{sql: "SELECT 1 \xff", want: "UTF-8"},
	// Size and emptiness.
	{sql: "SELECT '" + strings.Repeat("x", MaxSQLBytes) + "'", err: ErrTooLarge, want: "the limit is 102400 bytes"},
	{sql: "", want: "empty statement"},
	{sql: "  \n\t ", want: "empty statement"},
	{sql: ";", want: "empty statement"},
	{sql: "-- only a comment", want: "empty statement"},
}

func (f *fixture) expand(s string) string {
	return strings.NewReplacer(
		"{cache}", f.cache,
		"{file}", f.views[ViewMemories].Files[0].Path,
		"{temp}", f.temp,
		"{outside}", f.outside,
	).Replace(s)
}

func TestHostileStatements(t *testing.T) {
	if len(hostileStatements) < 40 {
		t.Fatalf("only %d hostile statements", len(hostileStatements))
	}
	f := newFixture(t, Config{})
	// Something for the statements to find, were they to get through.
	if err := os.WriteFile(filepath.Join(f.outside, "x.csv"), []byte("a,b\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.cache, "x.json"), []byte(`{"a":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	before := f.files(t)
	countSQL := "SELECT count(*) FROM memories"
	want := fmt.Sprintf("[[%d]]", f.memories)

	for i, h := range hostileStatements {
		name := h.sql
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(fmt.Sprintf("%02d %s", i, name), func(t *testing.T) {
			sql := f.expand(h.sql)
			res, err := f.exec(t, sql, 0)
			wantErr := h.err
			if wantErr == nil {
				wantErr = ErrRefused
			}
			if !errors.Is(err, wantErr) {
				t.Fatalf("err = %v (result %v), want %v", err, res, wantErr)
			}
			if !strings.Contains(err.Error(), h.want) {
				t.Errorf("error %q does not say %q", err, h.want)
			}
			// No effect: the views answer the same, no file appeared or
			// changed, and the configuration is still locked.
			if got := jsonOf(t, f.mustExec(t, countSQL).Rows); got != want {
				t.Errorf("count after: %s, want %s", got, want)
			}
			if after := f.files(t); !slices.Equal(before, after) {
				t.Errorf("files changed:\nbefore %v\nafter  %v", before, after)
			}
		})
	}

	// The configuration is as New left it.
	conn, err := f.engine.db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var external, locked, tz string
	var dbs int
	err = conn.QueryRowContext(context.Background(), `SELECT
		CAST(current_setting('enable_external_access') AS VARCHAR),
		CAST(current_setting('lock_configuration') AS VARCHAR),
		current_setting('TimeZone'),
		(SELECT count(*) FROM duckdb_databases() WHERE NOT internal)`).Scan(&external, &locked, &tz, &dbs)
	if err != nil {
		t.Fatal(err)
	}
	if external != "false" || locked != "true" || tz != "UTC" || dbs != 1 {
		t.Errorf("after the hostile statements: external access %s, locked %s, TimeZone %s, databases %d", external, locked, tz, dbs)
	}
}

// TestAcceptedStatements covers the SELECT forms users need, including
// some that look suspicious but are harmless.
func TestAcceptedStatements(t *testing.T) {
	f := newFixture(t, Config{})
	tests := []struct {
		sql  string
		want string // JSON of the rows
	}{
		{"SELECT kind, count(*) AS n FROM memories GROUP BY ALL ORDER BY kind", `[["conversation",1],["memory",5],["reflection",1]]`},
		{"FROM memories SELECT id WHERE tier = 'warm'", `[["m1"]]`},
		{"WITH t AS (SELECT * FROM memories WHERE system_id = 'sys-a') SELECT count(*) FROM t", `[[6]]`},
		{"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT list(n ORDER BY n) FROM r", `[[[1,2,3]]]`},
		{"VALUES (1, 'a'), (2, 'b')", `[[1,"a"],[2,"b"]]`},
		{"SELECT id FROM memories WHERE id LIKE 'm_' EXCEPT SELECT 'm2' ORDER BY 1", `[["m1"],["m3"]]`},
		{"SELECT system_id, id FROM memories QUALIFY row_number() OVER (PARTITION BY system_id ORDER BY created_at DESC) = 1 ORDER BY 1", `[["0042","m1"],["sys-a","dup"]]`},
		{"SELECT unnest(tags) FROM memories WHERE id = 'm1' AND system_id = 'sys-a'", `[["x"],["y"]]`},
		{"SELECT j.key, j.value FROM memories m, json_each(m.metadata) j WHERE j.key = 'b'", `[["b",1]]`},
		{"SELECT count(*) FROM generate_series(1, 10)", `[[10]]`},
		{"SELECT e.name, m.id FROM entities e JOIN memories m USING (system_id, day) ORDER BY m.id", `[["Go","m1"],["Go","m2"],["Go","m3"]]`},
		{"SELECT * FROM (SELECT kind FROM memories) PIVOT (count(*) FOR kind IN ('memory', 'reflection'))", `[[5,1]]`},
		{"SELECT list_cosine_similarity(embedding, embedding) FROM memories WHERE embedding IS NOT NULL", `[[1]]`},
		{"SELECT array_cosine_similarity(embedding, embedding) > 0.99 FROM memories WHERE embedding IS NOT NULL", `[[true]]`},
		{"SELECT 1 /* ; DROP VIEW memories; COPY (SELECT 1) TO 'x' */ AS one -- ; ATTACH ':memory:'", `[[1]]`},
		{"SELECT 'COPY (SELECT 1) TO ''x''; ATTACH' AS s", `[["COPY (SELECT 1) TO 'x'; ATTACH"]]`},
		{"SELECT 1 AS \"ﬁeld 😀\";", `[[1]]`},
		{"select COUNT(*) from MEMORIES where ID = 'solo'", `[[1]]`},
		// A CTE named like a file binds to the CTE: nothing is read.
		{"WITH \"{file}\" AS (SELECT 42 AS x) SELECT * FROM \"{file}\"", `[[42]]`},
		{"WITH duckdb_settings AS (SELECT 7 AS x) SELECT * FROM duckdb_settings", `[[7]]`},
		{"SELECT count(*) FROM (DESCRIBE memories)", `[[20]]`},
		{"SELECT column_name FROM (DESCRIBE SELECT created_at FROM memories)", `[["created_at"]]`},
		{"SUMMARIZE SELECT 1 AS x", ``},
		{"DESCRIBE memories", ``},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			res, err := f.exec(t, f.expand(tt.sql), 0)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != "" {
				if got := jsonOf(t, res.Rows); got != tt.want {
					t.Errorf("rows %s, want %s", got, tt.want)
				}
			}
		})
	}
}
