// Package sqlexec runs user SQL, read-only and sandboxed, with DuckDB over
// the lake's Parquet files in the local cache.
//
// Each Engine owns one in-memory DuckDB database, configured once and then
// locked (see guard.go for the three layers of the sandbox). Each request
// gets a fresh connection, on which the engine defines TEMP views
// memories, entities and relations over the request's files (views.go);
// the connection is closed afterwards, so nothing a request creates or
// changes reaches the next. A user statement must be a single SELECT that
// references only those views.
//
// Limits: Config.Timeout interrupts a running statement; Config.MaxRows
// caps the rows returned (at most limit+1 are ever fetched, and Truncated
// says whether there were more); memory_limit and threads bound DuckDB.
// Two things escape them: DuckDB folds constant expressions while
// preparing, which no interrupt reaches (SELECT repeat('x', 300000000)
// overruns the timeout by seconds), and memory_limit governs DuckDB's
// buffer manager, not every allocation (that string, again). The
// container's memory limit is the backstop for both.
//
// Results are converted for JSON (result.go) and written as JSON, NDJSON,
// CSV or Parquet (format.go, parquet.go).
package sqlexec

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Defaults of Config.
const (
	DefaultTimeout = 30 * time.Second
	DefaultMaxRows = 10_000
)

// Config configures an Engine.
type Config struct {
	// MemoryLimit is DuckDB's memory_limit, e.g. "1GB"; empty leaves
	// DuckDB's default (80% of RAM). Go-side result rows come on top.
	MemoryLimit string
	// Threads is DuckDB's thread count; 0 leaves DuckDB's default (cores).
	Threads int
	// TempDir is where DuckDB spills what does not fit in memory. Empty
	// means a private directory that New creates and Close removes. DuckDB
	// allows access to it implicitly, so it must not be shared with
	// anything else.
	TempDir string
	// MaxTempDirSize caps the spill (max_temp_directory_size, e.g.
	// "10GB"); empty leaves DuckDB's default (90% of the free space).
	MaxTempDirSize string
	// Timeout bounds each statement; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxRows caps Request.Limit; 0 means DefaultMaxRows.
	MaxRows int
	// AllowedDirs are the directories the views' files live in (the
	// cache). DuckDB can read nothing else.
	AllowedDirs []string
}

// Request is one statement to run.
type Request struct {
	// SQL is a single SELECT (WITH ... SELECT, VALUES, FROM-first,
	// DESCRIBE/SUMMARIZE of a query) over the views memories, entities and
	// relations.
	SQL string
	// Limit caps the rows returned; 0 means Config.MaxRows, and larger
	// values are lowered to it.
	Limit int
	// Views holds the files of each view, keyed by ViewMemories,
	// ViewEntities or ViewRelations. A view not given is empty.
	Views map[string]View
}

// Engine runs requests. It is safe for concurrent use.
type Engine struct {
	connector *duckdb.Connector
	db        *sql.DB
	dirs      []string
	timeout   time.Duration
	maxRows   int
	ownedTemp string       // removed by Close
	inlined   atomic.Int64 // statements run by the CTE fast path (tests)
	checked   guardCache   // statements that passed the guard, by text
}

// New opens an Engine's database and locks its configuration.
func New(cfg Config) (*Engine, error) {
	e := &Engine{timeout: cfg.Timeout, maxRows: cfg.MaxRows}
	if e.timeout <= 0 {
		e.timeout = DefaultTimeout
	}
	if e.maxRows <= 0 {
		e.maxRows = DefaultMaxRows
	}
	if cfg.Threads < 0 {
		return nil, fmt.Errorf("sqlexec: negative Threads %d", cfg.Threads)
	}
	if len(cfg.AllowedDirs) == 0 {
		return nil, errors.New("sqlexec: no AllowedDirs: the views would have nothing to read")
	}
	for _, d := range cfg.AllowedDirs {
		clean, err := checkDir(d)
		if err != nil {
			return nil, fmt.Errorf("sqlexec: allowed directory: %w", err)
		}
		e.dirs = append(e.dirs, clean)
	}
	temp := cfg.TempDir
	if temp == "" {
		dir, err := os.MkdirTemp("", "akosha-sqlexec-")
		if err != nil {
			return nil, fmt.Errorf("sqlexec: spill directory: %w", err)
		}
		temp, e.ownedTemp = dir, dir
	} else {
		clean, err := checkDir(temp)
		if err != nil {
			return nil, fmt.Errorf("sqlexec: temp directory: %w", err)
		}
		temp = clean
	}

	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		e.removeTemp()
		return nil, fmt.Errorf("sqlexec: open DuckDB: %w", err)
	}
	e.connector = connector
	e.db = sql.OpenDB(connector)
	// No idle connections: each request's connection is closed after it,
	// and with it every TEMP object and session setting it held.
	e.db.SetMaxIdleConns(0)

	if err := e.setup(cfg, temp); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// setup configures the database. The order matters: allowed_directories
// and temp_directory cannot change once external access is off, and
// nothing can change once the configuration is locked.
func (e *Engine) setup(cfg Config, temp string) error {
	dirs := make([]string, len(e.dirs))
	for i, d := range e.dirs {
		// The trailing separator keeps /cache from also allowing /cache2.
		dirs[i] = Quote(d + string(filepath.Separator))
	}
	stmts := []string{
		// The bundled extensions are linked in; loading them now means
		// nothing needs autoloading later.
		"LOAD parquet", "LOAD json", "LOAD icu",
		"SET GLOBAL TimeZone = 'UTC'",
		"SET GLOBAL autoinstall_known_extensions = false",
		"SET GLOBAL autoload_known_extensions = false",
		// Cached files never change, so their footers can be cached too.
		"SET GLOBAL parquet_metadata_cache = true",
		"SET GLOBAL temp_directory = " + Quote(temp),
		"SET GLOBAL allowed_directories = [" + strings.Join(dirs, ", ") + "]",
	}
	if cfg.MemoryLimit != "" {
		stmts = append(stmts, "SET GLOBAL memory_limit = "+Quote(cfg.MemoryLimit))
	}
	if cfg.Threads > 0 {
		stmts = append(stmts, "SET GLOBAL threads = "+strconv.Itoa(cfg.Threads))
	}
	if cfg.MaxTempDirSize != "" {
		stmts = append(stmts, "SET GLOBAL max_temp_directory_size = "+Quote(cfg.MaxTempDirSize))
	}
	stmts = append(stmts,
		"SET GLOBAL enable_external_access = false",
		"SET GLOBAL lock_configuration = true",
	)

	ctx := context.Background()
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlexec: setup: %w", err)
	}
	defer conn.Close()
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("sqlexec: setup %q: %w", s, err)
		}
	}
	return e.verify(ctx)
}

// verify checks, on a new connection, that the settings hold for every
// connection, not just the one that made them.
func (e *Engine) verify(ctx context.Context) error {
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlexec: verify setup: %w", err)
	}
	defer conn.Close()
	var tz, external, locked string
	err = conn.QueryRowContext(ctx, `SELECT current_setting('TimeZone'),
		CAST(current_setting('enable_external_access') AS VARCHAR),
		CAST(current_setting('lock_configuration') AS VARCHAR)`).Scan(&tz, &external, &locked)
	if err != nil {
		return fmt.Errorf("sqlexec: verify setup: %w", err)
	}
	if tz != "UTC" || external != "false" || locked != "true" {
		return fmt.Errorf("sqlexec: verify setup: TimeZone=%s enable_external_access=%s lock_configuration=%s", tz, external, locked)
	}
	return nil
}

func checkDir(d string) (string, error) {
	if !filepath.IsAbs(d) {
		return "", fmt.Errorf("%q is not absolute", d)
	}
	d = filepath.Clean(d)
	if strings.ContainsAny(d, "'\x00") {
		return "", fmt.Errorf("%q: quotes and NUL are not supported in directory names", d)
	}
	st, err := os.Stat(d)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		return "", fmt.Errorf("%q is not a directory", d)
	}
	return d, nil
}

// Close closes the database. Requests still running fail.
func (e *Engine) Close() error {
	var errs []error
	if e.db != nil {
		errs = append(errs, e.db.Close())
	}
	if e.connector != nil {
		errs = append(errs, e.connector.Close())
	}
	e.removeTemp()
	return errors.Join(errs...)
}

func (e *Engine) removeTemp() {
	if e.ownedTemp != "" {
		os.RemoveAll(e.ownedTemp)
		e.ownedTemp = ""
	}
}

// Exec runs req.SQL and returns at most the limit's rows.
func (e *Engine) Exec(ctx context.Context, req Request) (*Result, error) {
	if err := checkText(req.SQL); err != nil {
		return nil, err
	}
	limit, err := e.limit(req.Limit)
	if err != nil {
		return nil, err
	}
	if err := checkViews(req.Views, e.dirs); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}

	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	res, err := e.exec(ctx, req, limit)
	if err != nil {
		return nil, e.classify(parent, ctx, err)
	}
	return res, nil
}

func (e *Engine) limit(l int) (int, error) {
	switch {
	case l < 0:
		return 0, fmt.Errorf("%w: negative limit %d", ErrBadRequest, l)
	case l == 0 || l > e.maxRows:
		return e.maxRows, nil
	}
	return l, nil
}

// classify turns a context error into ErrTimeout when the statement's own
// deadline expired rather than the caller's context.
func (e *Engine) classify(parent, ctx context.Context, err error) error {
	if parent.Err() != nil {
		return fmt.Errorf("sqlexec: %w", errors.Join(parent.Err(), err))
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w after %v", ErrTimeout, e.timeout)
	}
	return err
}

func (e *Engine) exec(ctx context.Context, req Request, limit int) (*Result, error) {
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlexec: connection: %w", err)
	}
	defer conn.Close()

	chk, err := e.checked.guard(ctx, conn, req.SQL)
	if err != nil {
		return nil, err
	}

	// The fast path: the views as CTEs of the user's own text, bound once.
	var used []string
	for _, name := range viewNames {
		if chk.views[name] {
			used = append(used, name)
		}
	}
	if text, ok := withViews(req.SQL, used, req.Views); ok {
		if res, ok, err := e.runInline(ctx, conn, text, limit); ok || err != nil {
			return res, err
		}
	}

	// Only the views the statement uses are defined: defining one reads
	// the footers of its files.
	for _, name := range viewNames {
		if !chk.views[name] {
			continue
		}
		if _, err := conn.ExecContext(ctx, viewSQL(name, req.Views[name])); err != nil {
			return nil, fmt.Errorf("sqlexec: create view %s: %w", name, err)
		}
	}

	// The user's own text, prepared, gives the column names as DuckDB
	// derives them from what the user wrote (the rendering spells some
	// expressions differently), and its statement type is checked once
	// more. When every column comes through the driver faithfully, that
	// prepared statement is what runs: binding views over thousands of
	// files is most of a warm query's cost, and preparing a second,
	// wrapped statement doubled it. fetch stops after limit+1 rows.
	d, err := runText(ctx, conn, req.SQL, limit)
	if err != nil {
		return nil, err
	}
	if d.ran {
		return d.res, nil
	}
	res, cols, types := d.res, d.cols, d.types

	// The wrapper is built around the checked statement as the parser
	// rendered it, not around the user's text.
	var canonical string
	if err := conn.QueryRowContext(ctx, deserializeSQL, chk.tree).Scan(&canonical); err != nil {
		return nil, fmt.Errorf("%w: render the checked statement: %w", ErrQuery, err)
	}
	wrapped := wrap(canonical, types, limit+1)
	// What runs is checked, not just what the user wrote.
	if _, err := guard(ctx, conn, wrapped); err != nil {
		return nil, fmt.Errorf("sqlexec: the limited statement failed the guard: %w", err)
	}
	res.Columns = cols
	err = withStmt(conn, wrapped, func(s *duckdb.Stmt) error {
		return fetch(ctx, s, types, limit, res)
	})
	if err != nil {
		return nil, err
	}
	res.RowCount = len(res.Rows)
	return res, nil
}

// runInline runs the user's text with the views inlined as CTEs
// (withViews). It reports false, with no error, when the statement must
// take the view path instead: the spliced text does not prepare (a user
// CTE of the same name, syntax the splice does not suit; the view path
// then reports the user's own error as before), or a column needs the
// casting wrapper.
func (e *Engine) runInline(ctx context.Context, conn *sql.Conn, text string, limit int) (*Result, bool, error) {
	d, err := runText(ctx, conn, text, limit)
	switch {
	case !d.prepared:
		return nil, false, nil
	case err != nil:
		return nil, false, err
	case !d.ran:
		return nil, false, nil
	}
	e.inlined.Add(1)
	return d.res, true, nil
}

// direct is what runText did with a statement.
type direct struct {
	res      *Result  // the answer, when ran
	cols     []Column // the statement's columns, once prepared
	types    []*dtype // their types
	prepared bool     // text prepared as one SELECT
	ran      bool     // and ran: no column needed the casting wrapper
}

// runText prepares text and, when every column comes through the driver
// faithfully, runs it; fetch stops after limit+1 rows.
func runText(ctx context.Context, conn *sql.Conn, text string, limit int) (direct, error) {
	d := direct{res: &Result{Rows: [][]any{}}}
	err := withStmt(conn, text, func(s *duckdb.Stmt) error {
		d.prepared = true
		var err error
		d.cols, d.types, err = describe(s)
		if err != nil {
			return err
		}
		for _, t := range d.types {
			if t.needsCast() {
				return nil
			}
		}
		d.ran = true
		d.res.Columns = d.cols
		return fetch(ctx, s, d.types, limit, d.res)
	})
	if err == nil && d.ran {
		d.res.RowCount = len(d.res.Rows)
	}
	return d, err
}

// withStmt prepares text on conn's driver connection and checks that it is
// one SELECT without parameters. The driver's Prepare (unlike
// PrepareContext, which executes every statement but the last) refuses
// text holding more than one statement.
func withStmt(conn *sql.Conn, text string, fn func(*duckdb.Stmt) error) error {
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*duckdb.Conn)
		if !ok {
			return fmt.Errorf("sqlexec: unexpected driver connection %T", dc)
		}
		st, err := c.Prepare(text)
		if err != nil {
			return queryError(err)
		}
		s, ok := st.(*duckdb.Stmt)
		if !ok {
			st.Close()
			return fmt.Errorf("sqlexec: unexpected driver statement %T", st)
		}
		defer s.Close()
		typ, err := s.StatementType()
		if err != nil {
			return fmt.Errorf("sqlexec: statement type: %w", err)
		}
		if typ != duckdb.STATEMENT_TYPE_SELECT {
			return refuse("only SELECT statements are allowed (statement type %d)", typ)
		}
		if s.NumInput() > 0 {
			return refuse("parameters ($1, ?) are not supported")
		}
		return fn(s)
	})
}

// describe returns the columns of a prepared statement.
func describe(s *duckdb.Stmt) ([]Column, []*dtype, error) {
	n, err := s.ColumnCount()
	if err != nil {
		return nil, nil, fmt.Errorf("sqlexec: columns: %w", err)
	}
	cols := make([]Column, n)
	types := make([]*dtype, n)
	for i := range n {
		name, err := s.ColumnName(i)
		if err != nil {
			return nil, nil, fmt.Errorf("sqlexec: column %d: %w", i, err)
		}
		info, err := s.ColumnTypeInfo(i)
		if err != nil {
			return nil, nil, fmt.Errorf("sqlexec: column %s: %w", name, err)
		}
		types[i] = typeFromInfo(info)
		cols[i] = Column{Name: name, Type: types[i].String()}
	}
	return cols, types, nil
}

// wrap limits the statement to n rows and casts the columns whose values
// the driver would not return faithfully (see dtype.castSQL). Columns are
// renamed by position, so duplicate or odd names cannot get in the way;
// the result keeps the original names. The newlines keep a trailing
// comment, were there one, from swallowing the closing parenthesis.
func wrap(canonical string, types []*dtype, n int) string {
	var sel, alias strings.Builder
	for i, t := range types {
		if i > 0 {
			sel.WriteString(", ")
			alias.WriteString(", ")
		}
		name := "c" + strconv.Itoa(i)
		alias.WriteString(name)
		if t.needsCast() {
			fmt.Fprintf(&sel, "CAST(%s AS %s)", name, t.castSQL())
		} else {
			sel.WriteString(name)
		}
	}
	return fmt.Sprintf("SELECT %s FROM (\n%s\n) AS akosha_q(%s) LIMIT %d", sel.String(), canonical, alias.String(), n)
}

// fetch runs s and reads at most limit+1 rows into res: one more than the
// limit tells whether rows were cut.
func fetch(ctx context.Context, s *duckdb.Stmt, types []*dtype, limit int, res *Result) error {
	rows, err := s.QueryContext(ctx, nil)
	if err != nil {
		return queryError(err)
	}
	defer rows.Close()
	dest := make([]driver.Value, len(types))
	for {
		err := rows.Next(dest)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return queryError(err)
		}
		if len(res.Rows) == limit {
			res.Truncated = true
			return nil
		}
		row := make([]any, len(types))
		for i, v := range dest {
			c, err := convert(v, types[i])
			if err != nil {
				return fmt.Errorf("sqlexec: column %s: %w", res.Columns[i].Name, err)
			}
			row[i] = c
		}
		res.Rows = append(res.Rows, row)
	}
}

// queryError classifies a DuckDB error: a permission error means the
// sandbox settings stopped something the guard let through, and is
// reported as a refusal; the rest are the statement's fault.
func queryError(err error) error {
	var de *duckdb.Error
	if errors.As(err, &de) {
		switch de.Type {
		case duckdb.ErrorTypePermission:
			return fmt.Errorf("%w: %w", ErrRefused, err)
		case duckdb.ErrorTypeInterrupt:
			return fmt.Errorf("sqlexec: interrupted: %w", err)
		case duckdb.ErrorTypeIO, duckdb.ErrorTypeInternal, duckdb.ErrorTypeFatal, duckdb.ErrorTypeConnection:
			return fmt.Errorf("sqlexec: %w", err)
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("sqlexec: %w", err)
	}
	return fmt.Errorf("%w: %w", ErrQuery, err)
}
