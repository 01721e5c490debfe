package importer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver
)

// DuckDB settings of the reading connection. The machine is shared and the
// job must stay within bounded memory: DuckDB spills to the upload's private
// temporary directory beyond memoryLimit.
const (
	duckThreads     = 2
	duckMemoryLimit = "1GB"
)

// source is one private in-memory DuckDB with an upload's databases attached
// read-only. The databases are hostile input: they are attached with external
// access disabled right afterwards (so a view or macro inside them cannot read
// the host's files), only base tables of the expected names are read, and
// every query names its table by catalog (so nothing in them can shadow a
// function we call).
type source struct {
	db   *sql.DB
	conn *sql.Conn
}

// openSource attaches files (alias -> local path) in a fresh DuckDB whose
// spill directory is tmp.
func openSource(ctx context.Context, tmp string, files map[string]string) (*source, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	// One connection: settings and attachments are per database, but a single
	// connection keeps the order of the statements below obvious.
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("duckdb connection: %w", err)
	}
	s := &source{db: db, conn: conn}
	stmts := []string{
		fmt.Sprintf("SET threads = %d", duckThreads),
		fmt.Sprintf("SET memory_limit = '%s'", duckMemoryLimit),
		"SET temp_directory = " + sqlString(tmp),
		// Scans without ORDER BY return rows in storage order; batch
		// boundaries (and so the txn ids) depend on it. It is the default,
		// stated so that nobody turns it off for speed.
		"SET preserve_insertion_order = true",
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
	}
	for alias, path := range files {
		stmts = append(stmts, fmt.Sprintf("ATTACH %s AS %s (TYPE duckdb, READ_ONLY)", sqlString(path), alias))
	}
	stmts = append(stmts,
		"SET enable_external_access = false",
		"SET lock_configuration = true",
	)
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			s.close()
			if strings.HasPrefix(q, "ATTACH") {
				return nil, invalid("cannot open the database: %v", err)
			}
			return nil, fmt.Errorf("duckdb %q: %w", q, err)
		}
	}
	return s, nil
}

func (s *source) close() {
	s.conn.Close()
	s.db.Close()
}

// columns returns the data types of table's columns in the attached database
// alias (main schema), or nil if there is no such table. A view of that name
// is refused: Session-Buddy creates tables, and a view would be a way to make
// the importer evaluate someone else's SQL.
func (s *source) columns(ctx context.Context, alias, table string) (map[string]string, error) {
	var kind string
	err := s.conn.QueryRowContext(ctx,
		`SELECT table_type FROM information_schema.tables
		 WHERE table_catalog = ? AND table_schema = 'main' AND table_name = ?`, alias, table).Scan(&kind)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up %s: %w", table, err)
	}
	if kind != "BASE TABLE" {
		return nil, invalid("%s is a %s, not a table", table, strings.ToLower(kind))
	}
	rows, err := s.conn.QueryContext(ctx,
		`SELECT column_name, data_type FROM duckdb_columns()
		 WHERE database_name = ? AND schema_name = 'main' AND table_name = ?`, alias, table)
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	defer rows.Close()
	cols := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, fmt.Errorf("columns of %s: %w", table, err)
		}
		cols[name] = typ
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	return cols, nil
}

// count returns the number of rows of a table, for progress reports.
func (s *source) count(ctx context.Context, alias, table string) (int64, error) {
	var n int64
	err := s.conn.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM %s.main.%s", alias, quoteIdent(table))).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	return n, nil
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
