package sqlexec

import (
	"cmp"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/akosha/akosha/functions/query/sqlresult"
)

// View names: the only relations a user statement may reference.
const (
	ViewMemories  = "memories"
	ViewEntities  = "entities"
	ViewRelations = "relations"
)

// viewNames lists the views in a fixed order, so that setup statements are
// issued deterministically.
var viewNames = []string{ViewMemories, ViewEntities, ViewRelations}

// View is the content of one view for one request.
type View struct {
	// Files are the view's data files: local Parquet files in the lake's
	// Hive-style layout (.../tier=hot/day=2026-11-01/f.parquet),
	// each under one of Config.AllowedDirs. The partition columns come
	// from the path; the other columns from the files, read by name, so a
	// column some files lack reads as NULL in those (but at least one file
	// must have it). An empty list gives a view with the right columns and
	// no rows.
	Files []File
	// Columns overrides the view's columns; nil means TableColumns(name).
	Columns []ColumnDef
	// Confine, when set, limits the view to the rows of some systems: what
	// one tenant may read of files that hold every tenant's rows.
	Confine *Confinement
	// VisibleAt, when set, hides the rows whose expires_at is at or before
	// it (memories only; issue 16). It applies after latest-wins: a record
	// whose latest version expired is invisible, never replaced by an older
	// version. Zero: no row is hidden (no file holds an expiring row).
	VisibleAt time.Time
}

// ReadsWhole reports whether the view reads f as it is, without the row
// test and the masks: a confined view's file that holds only shown systems
// (File.Allowed) and needs no deduplication across files.
func (v View) ReadsWhole(f File) bool {
	return v.Confine != nil && f.Allowed && !f.Dedup
}

// Confinement is the set of systems a view shows.
//
// The filter alone would not do: DuckDB's optimizer is free to evaluate a
// user's predicate before the view's own (it reorders conjunctions by
// cost and pushes expressions into the scan), so
// WHERE CAST(content AS INT) = 1 could fail on, and so reveal in its error,
// another tenant's content, and a predicate that errors or burns time only
// on some rows would be an oracle. So every column of a confined view is
// masked as well, CASE WHEN <system allowed> THEN column END: whatever
// order the optimizer picks, an expression over a row of another system
// sees only NULLs, and the filter then drops the row.
type Confinement struct {
	// Systems are the system_ids shown, or with Deny those not shown.
	Systems []string
	Deny    bool
}

// condition is the SQL test of a row's system against c, over the raw
// system_id column of a data file. list_contains over a constant list:
// DuckDB rewrites an IN list of more than a few values into a join, which
// made a confined view several times slower than the plain one.
func (c *Confinement) condition() string {
	if len(c.Systems) == 0 {
		if c.Deny {
			return "(system_id IS NOT NULL)"
		}
		return "false"
	}
	var list strings.Builder
	list.WriteByte('[')
	for i, s := range c.Systems {
		if i > 0 {
			list.WriteString(", ")
		}
		list.WriteString(Quote(s))
	}
	list.WriteByte(']')
	if c.Deny {
		return "(system_id IS NOT NULL AND NOT list_contains(" + list.String() + ", system_id))"
	}
	return "coalesce(list_contains(" + list.String() + ", system_id), false)"
}

// scanFilter is a filter equal to the condition that DuckDB can push into
// the Parquet scan, to skip row groups by their statistics: an IN list of
// a few values (a statement naming one system). "" when there is none.
func (c *Confinement) scanFilter() string {
	if c.Deny || len(c.Systems) == 0 || len(c.Systems) > maxScanFilter {
		return ""
	}
	return " AND system_id IN (" + QuoteAll(c.Systems) + ")"
}

// maxScanFilter is the longest system list given to the scan as well.
const maxScanFilter = 8

// File is one data file of a view.
type File struct {
	// Path is the absolute path of the cached Parquet file.
	Path string
	// Seq is the commit version that added the file. It orders versions of a
	// record among the files flagged Dedup.
	Seq int64
	// Dedup flags a file that may hold a version of a record (same
	// system_id and id) that another flagged file also holds. Among the
	// rows of all flagged files of a view, one per key is kept, the latest:
	// the greatest ingested_at (the lake's per-row version, which
	// compaction preserves), then the highest Seq, then the later file
	// path, then the later row in the file.
	//
	// Files not flagged are read as they are, without the window that
	// dedup needs, which is far cheaper. So the caller flags only files
	// whose keys can repeat (say, the partitions that received re-sent
	// records), and must flag every file holding a version of such a key:
	// rows of unflagged files are compared with nothing.
	Dedup bool
	// Encoding is the file's encoding (its add action's akosha.encoding
	// tag): "" for the row types of schemas, EncodingInt8 for warm and cold
	// memories, whose embedding the view dequantizes. Files of each
	// encoding are read by their own read_parquet, since they differ in
	// columns.
	Encoding string
	// Allowed flags a file every row of which the reader may see (the
	// caller knows each file's systems): it is read as it is, without the
	// row test and the masks, which then cost nothing. The reader's whole
	// scope counts, even where Confinement is narrowed to the systems a
	// statement names: rows of the reader's other systems are its own,
	// and the statement's filter drops them. Ignored without a
	// Confinement, and for Dedup files (their window compares rows across
	// files; they keep the test).
	Allowed bool
	// NoExpiry flags a memories file written before the expires_at column
	// existed (issue 16): the view reads the column as NULL there. Files
	// with and without it are read by separate read_parquet calls, since
	// DuckDB refuses a column the first file has and a later one lacks.
	NoExpiry bool
}

// EncodingInt8 is File.Encoding of a memories file holding
// schemas.QuantizedMemoryRow.
const EncodingInt8 = "int8"

// ColumnDef is one column of a view.
type ColumnDef struct {
	// Name is the column's name in the view.
	Name string
	// Type is its DuckDB type in the view, e.g. "FLOAT[384]" or "JSON"; the
	// value is cast to it, so that every file, and the empty view, agree.
	Type string
	// Expr is a SQL expression over the data file's columns (and the
	// partition columns tier and day) that computes the column; empty
	// means the file column of the same name. It comes from the caller, never
	// from the user, and is spliced into the view's SQL as it is.
	Expr string
}

// Columns common to the tables, from the Hive-style path.
var partitionDefs = []ColumnDef{
	{Name: "tier", Type: "VARCHAR"},
	{Name: "day", Type: "DATE"},
}

// tableColumns are the columns of each table, in the order of
// schemas.DeltaSchemaString: the record's (system_id first), the lake's
// ingested_at, then tier and day.
// JSON object fields are stored as VARCHAR and exposed as JSON; embeddings
// are stored as LIST<FLOAT> and exposed as FLOAT[384]; created_at and
// updated_at are TIMESTAMP(MICROS, UTC) and exposed as TIMESTAMPTZ.
var tableColumns = map[string][]ColumnDef{
	ViewMemories: withPartitions(
		ColumnDef{Name: "system_id", Type: "VARCHAR"},
		ColumnDef{Name: "id", Type: "VARCHAR"},
		ColumnDef{Name: "kind", Type: "VARCHAR"},
		ColumnDef{Name: "content", Type: "VARCHAR"},
		ColumnDef{Name: "embedding", Type: "FLOAT[384]"},
		ColumnDef{Name: "created_at", Type: "TIMESTAMPTZ"},
		ColumnDef{Name: "project", Type: "VARCHAR"},
		ColumnDef{Name: "namespace", Type: "VARCHAR"},
		ColumnDef{Name: "session_id", Type: "VARCHAR"},
		ColumnDef{Name: "user_id", Type: "VARCHAR"},
		ColumnDef{Name: "category", Type: "VARCHAR"},
		ColumnDef{Name: "subcategory", Type: "VARCHAR"},
		ColumnDef{Name: "tags", Type: "VARCHAR[]"},
		ColumnDef{Name: "importance", Type: "DOUBLE"},
		ColumnDef{Name: "source_type", Type: "VARCHAR"},
		ColumnDef{Name: "metadata", Type: "JSON"},
		ColumnDef{Name: "ingested_at", Type: "TIMESTAMPTZ"},
		ColumnDef{Name: "expires_at", Type: "TIMESTAMPTZ"},
	),
	ViewEntities: withPartitions(
		ColumnDef{Name: "system_id", Type: "VARCHAR"},
		ColumnDef{Name: "id", Type: "VARCHAR"},
		ColumnDef{Name: "name", Type: "VARCHAR"},
		ColumnDef{Name: "entity_type", Type: "VARCHAR"},
		ColumnDef{Name: "observations", Type: "VARCHAR[]"},
		ColumnDef{Name: "properties", Type: "JSON"},
		ColumnDef{Name: "created_at", Type: "TIMESTAMPTZ"},
		ColumnDef{Name: "updated_at", Type: "TIMESTAMPTZ"},
		ColumnDef{Name: "embedding", Type: "FLOAT[384]"},
		ColumnDef{Name: "ingested_at", Type: "TIMESTAMPTZ"},
	),
	ViewRelations: withPartitions(
		ColumnDef{Name: "system_id", Type: "VARCHAR"},
		ColumnDef{Name: "id", Type: "VARCHAR"},
		ColumnDef{Name: "from_entity", Type: "VARCHAR"},
		ColumnDef{Name: "to_entity", Type: "VARCHAR"},
		ColumnDef{Name: "relation_type", Type: "VARCHAR"},
		ColumnDef{Name: "properties", Type: "JSON"},
		ColumnDef{Name: "created_at", Type: "TIMESTAMPTZ"},
		ColumnDef{Name: "ingested_at", Type: "TIMESTAMPTZ"},
	),
}

func withPartitions(cols ...ColumnDef) []ColumnDef {
	return append(cols, partitionDefs...)
}

// TableColumns returns the standard columns of view name (ViewMemories,
// ViewEntities or ViewRelations): every record column plus tier and day, as
// api/openapi.yaml describes them (POST /v1/sql). It returns nil for any other name.
func TableColumns(name string) []ColumnDef {
	return slices.Clone(tableColumns[name])
}

// hiveTypes types the partition columns parsed from the paths; without it
// DuckDB would guess.
const hiveTypes = `{'tier': VARCHAR, 'day': DATE}`

// Internal column names of the dedup path. The prefix keeps them apart from
// any record column.
const (
	seqColumn  = "__akosha_seq"
	fileColumn = "__akosha_file"
	okColumn   = "__akosha_ok" // a confined view's row test (Confinement)
)

// typePattern bounds what a ColumnDef.Type may contain: type names, array
// sizes, and the punctuation of STRUCT/MAP/DECIMAL types; no quotes, so it
// cannot end the surrounding CAST.
var typePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_ ,()\[\]]*$`)

// checkViews verifies the views of a request: known names, files inside
// dirs (checkPath), sane column definitions.
func checkViews(views map[string]View, dirs []string) error {
	for _, name := range slices.Sorted(maps.Keys(views)) {
		v := views[name]
		if tableColumns[name] == nil {
			return fmt.Errorf("unknown view %q", name)
		}
		for _, f := range v.Files {
			if err := checkPath(f.Path, dirs); err != nil {
				return fmt.Errorf("view %s: %w", name, err)
			}
		}
		if v.Confine != nil {
			for _, s := range v.Confine.Systems {
				if s == "" || strings.ContainsRune(s, 0) {
					return fmt.Errorf("view %s: invalid confinement system %q", name, s)
				}
			}
		}
		if v.Columns != nil && len(v.Columns) == 0 {
			return fmt.Errorf("view %s: no columns", name)
		}
		for _, c := range v.Columns {
			if c.Name == "" || strings.ContainsRune(c.Name, 0) {
				return fmt.Errorf("view %s: invalid column name %q", name, c.Name)
			}
			if !typePattern.MatchString(c.Type) {
				return fmt.Errorf("view %s: invalid type %q for column %s", name, c.Type, c.Name)
			}
		}
	}
	return nil
}

// viewSQL returns the CREATE TEMP VIEW statement of view name over v,
// which checkViews accepted.
func viewSQL(name string, v View) string {
	return "CREATE TEMP VIEW " + quoteIdent(name) + " AS " + viewBody(name, v)
}

// viewBody is the query of view name over v.
func viewBody(name string, v View) string {
	cols := v.Columns
	if cols == nil {
		cols = tableColumns[name]
	}

	// Files not read through the dedup window, grouped by what makes their
	// columns differ (encoding, and whether they have expires_at), in a
	// fixed order.
	type shape struct {
		int8, noExpiry bool
		allowed        bool // confined, but every row shown (File.Allowed)
	}
	plain := map[shape][]File{}
	var dedup []File
	for _, f := range v.Files {
		if f.Dedup {
			dedup = append(dedup, f)
			continue
		}
		sh := shape{f.Encoding == EncodingInt8, f.NoExpiry, v.ReadsWhole(f)}
		plain[sh] = append(plain[sh], f)
	}

	// Confined: every column masked and the rows filtered (Confinement).
	sel, where := projection(cols), ""
	if c := v.Confine; c != nil {
		if !c.Deny && len(c.Systems) == 0 {
			plain, dedup = nil, nil // sees nothing
		}
		// The test is computed once per row, in a column the masks and the
		// filter share: spelt out in each CASE it cost DuckDB one
		// evaluation (an IN list's join) per column.
		sel, where = maskedProjection(cols, okColumn), " WHERE "+okColumn+c.scanFilter()
	}
	from := func(src string) string {
		if v.Confine == nil {
			return src
		}
		return "(SELECT *, " + v.Confine.condition() + " AS " + okColumn + " FROM " + src + ")"
	}
	var parts []string
	for _, allowed := range []bool{false, true} {
		for _, sh := range []shape{{false, false, allowed}, {false, true, allowed}, {true, false, allowed}, {true, true, allowed}} {
			files := plain[sh]
			switch {
			case len(files) == 0:
			case allowed:
				// Only shown systems' rows: nothing to mask or filter.
				parts = append(parts, "SELECT "+projection(cols)+" FROM "+readParquet(files, false))
			default:
				parts = append(parts, "SELECT "+sel+" FROM "+from(readParquet(files, false))+where)
			}
		}
	}
	if len(dedup) > 0 {
		parts = append(parts, "SELECT "+sel+" FROM "+from(dedupSource(dedup))+where)
	}
	if len(parts) == 0 {
		// A typed row that is never produced: the view binds, has the right
		// column types, and reads nothing.
		parts = append(parts, "SELECT "+emptyProjection(cols)+" WHERE false")
	}
	body := strings.Join(parts, "\nUNION ALL\n")
	if !v.VisibleAt.IsZero() && slices.ContainsFunc(cols, func(c ColumnDef) bool { return c.Name == "expires_at" }) {
		body = "SELECT * FROM (" + body + ") WHERE expires_at IS NULL OR expires_at > " +
			"CAST(" + Quote(v.VisibleAt.UTC().Format("2006-01-02 15:04:05.999999+00")) + " AS TIMESTAMPTZ)"
	}
	return body
}

// withViews returns the user's statement text with the views it uses
// defined in front of it as CTEs (NOT MATERIALIZED, so they are inlined
// as a view is), or false when the text does not start plainly enough to
// splice safely: its first word must be SELECT, FROM or WITH (not
// RECURSIVE, not after a comment). Our text only ever goes before the
// user's (or right after its leading WITH), so nothing the user wrote can
// reach back into it; and the user's text passed the guard on its own.
//
// Why: a view must be created (bound: its file list parsed and the first
// file's schema read) and then bound again inside the statement; a CTE is
// bound once, as raw DuckDB binds its own view. On 3,000 files that second
// bind was most of the gap to raw DuckDB on warm queries.
func withViews(text string, used []string, views map[string]View) (string, bool) {
	trimmed := strings.TrimLeft(text, " \t\r\n")
	word := firstWord(trimmed)
	if len(used) == 0 {
		return "", false
	}
	var ctes strings.Builder
	for i, name := range used {
		if i > 0 {
			ctes.WriteString(", ")
		}
		ctes.WriteString(quoteIdent(name) + " AS NOT MATERIALIZED (" + viewBody(name, views[name]) + ")")
	}
	switch strings.ToUpper(word) {
	case "SELECT", "FROM":
		return "WITH " + ctes.String() + "\n" + trimmed, true
	case "WITH":
		rest := strings.TrimLeft(trimmed[len(word):], " \t\r\n")
		if rest == "" || strings.EqualFold(firstWord(rest), "RECURSIVE") {
			return "", false
		}
		return "WITH " + ctes.String() + ",\n" + rest, true
	}
	return "", false
}

// firstWord is the leading run of letters of s.
func firstWord(s string) string {
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return s[:i]
		}
	}
	return s
}

// projection casts each column to its view type, so every part of the
// view's union has the same types whatever the files say.
func projection(cols []ColumnDef) string {
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		expr := c.Expr
		if expr == "" {
			expr = quoteIdent(c.Name)
		}
		fmt.Fprintf(&b, "CAST(%s AS %s) AS %s", expr, c.Type, quoteIdent(c.Name))
	}
	return b.String()
}

// maskedProjection is projection with each column NULL unless cond holds
// for its row (Confinement says why).
func maskedProjection(cols []ColumnDef, cond string) string {
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		expr := c.Expr
		if expr == "" {
			expr = quoteIdent(c.Name)
		}
		fmt.Fprintf(&b, "CAST(CASE WHEN %s THEN %s END AS %s) AS %s", cond, expr, c.Type, quoteIdent(c.Name))
	}
	return b.String()
}

func emptyProjection(cols []ColumnDef) string {
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "CAST(NULL AS %s) AS %s", c.Type, quoteIdent(c.Name))
	}
	return b.String()
}

// readParquet reads files as one relation with the partition columns from
// their paths. It does not pass union_by_name: that reads every file's
// schema at bind time, which made a 3,000-file view 2-3x slower than DuckDB
// on the same files; the lake writes one schema per table, and a column
// added later must come with a rewrite of the older files (or a view
// column with its own Expr).
//
// Files of EncodingInt8 (all of files, or none) are read through a
// projection that turns embedding_i8 and embedding_scale back into the
// float embedding, so that every part of a view has the same columns.
func readParquet(files []File, withOrigin bool) string {
	var b strings.Builder
	quantized := len(files) > 0 && files[0].Encoding == EncodingInt8
	noExpiry := len(files) > 0 && files[0].NoExpiry
	if noExpiry {
		b.WriteString("(SELECT *, CAST(NULL AS TIMESTAMPTZ) AS expires_at FROM ")
	}
	if quantized {
		b.WriteString("(SELECT * EXCLUDE (embedding_i8, embedding_scale), " +
			"list_transform(embedding_i8, x -> CAST(x AS FLOAT) * embedding_scale) AS embedding FROM ")
	}
	b.WriteString("read_parquet([")
	for i, f := range files {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(Quote(f.Path))
	}
	b.WriteString("], hive_partitioning = true, hive_types = ")
	b.WriteString(hiveTypes)
	if withOrigin {
		b.WriteString(", filename = " + Quote(fileColumn) + ", file_row_number = true")
	}
	b.WriteString(")")
	if quantized {
		b.WriteString(")")
	}
	if noExpiry {
		b.WriteString(")")
	}
	return b.String()
}

// dedupSource keeps, per (system_id, id), the row of the highest Seq among
// files. Files are grouped by Seq so that each group is one read_parquet
// whose rows carry the Seq as a constant.
func dedupSource(files []File) string {
	type group struct {
		seq      int64
		encoding string
		noExpiry bool
	}
	groups := map[group][]File{}
	for _, f := range files {
		g := group{f.Seq, f.Encoding, f.NoExpiry}
		groups[g] = append(groups[g], f)
	}
	keys := slices.SortedFunc(maps.Keys(groups), func(a, b group) int {
		if a.seq != b.seq {
			return cmp.Compare(a.seq, b.seq)
		}
		if c := strings.Compare(a.encoding, b.encoding); c != 0 {
			return c
		}
		switch {
		case a.noExpiry == b.noExpiry:
			return 0
		case a.noExpiry:
			return 1
		}
		return -1
	})

	var b strings.Builder
	b.WriteString("(SELECT * FROM (")
	for i, g := range keys {
		if i > 0 {
			b.WriteString(" UNION ALL BY NAME ")
		}
		fmt.Fprintf(&b, "SELECT *, CAST(%d AS BIGINT) AS %s FROM %s", g.seq, seqColumn, readParquet(groups[g], true))
	}
	fmt.Fprintf(&b, ") QUALIFY row_number() OVER (PARTITION BY system_id, id "+
		"ORDER BY ingested_at DESC NULLS LAST, %s DESC, %s DESC, file_row_number DESC) = 1)",
		seqColumn, fileColumn)
	return b.String()
}

// checkPath verifies that p is an absolute, clean path inside one of dirs,
// free of the characters DuckDB would read as a glob pattern (read_parquet
// expands globs in each list element).
func checkPath(p string, dirs []string) error {
	switch {
	case p == "" || !filepath.IsAbs(p):
		return fmt.Errorf("file %q: not an absolute path", p)
	case filepath.Clean(p) != p:
		return fmt.Errorf("file %q: not a clean path", p)
	case strings.ContainsAny(p, "*?[]{}\x00"):
		return fmt.Errorf("file %q: glob characters are not allowed in paths", p)
	}
	for _, d := range dirs {
		rel, err := filepath.Rel(d, p)
		if err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../") {
			return nil
		}
	}
	return fmt.Errorf("file %q: outside the allowed directories", p)
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// Quote quotes an SQL string literal (sqlresult.Quote).
func Quote(s string) string { return sqlresult.Quote(s) }

// QuoteAll quotes each of vals, comma-separated, for an IN list.
func QuoteAll(vals []string) string { return sqlresult.QuoteAll(vals) }
