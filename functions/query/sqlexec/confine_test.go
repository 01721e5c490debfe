package sqlexec

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// tenantStatements try to read rows of a system outside the view's
// confinement (the fixture confined to sys-a: "0042" and its row "other
// system" belong to another tenant). Each must answer only sys-a's rows or
// be refused; none may name 0042's content, in its rows or its error.
var tenantStatements = []string{
	"SELECT system_id, id, content FROM memories",
	"SELECT * FROM memories WHERE system_id = '0042'",
	"SELECT content FROM memories WHERE system_id IN ('0042', 'sys-a')",
	"SELECT content FROM memories WHERE system_id <> 'sys-a' OR system_id IS NULL",
	"WITH t AS (SELECT * FROM memories WHERE system_id = '0042') SELECT content FROM t",
	"SELECT (SELECT max(content) FROM memories WHERE system_id = '0042') AS c",
	"SELECT content FROM memories WHERE id IN (SELECT id FROM memories WHERE system_id = '0042')",
	"SELECT content FROM memories WHERE tier = 'warm' UNION ALL SELECT content FROM memories WHERE system_id = '0042'",
	"SELECT content FROM memories INTERSECT SELECT 'other system'",
	"SELECT count(*) FILTER (WHERE content = 'other system') FROM memories",
	"SELECT string_agg(content, ',') FROM memories",
	"FROM memories SELECT content WHERE day = DATE '2026-10-01'",
	"SUMMARIZE SELECT content FROM memories",
	"SELECT * FROM (SELECT kind FROM memories WHERE system_id = '0042') PIVOT (count(*) FOR kind IN ('memory'))",
	// Errors that would carry another tenant's values, were its rows ever
	// to reach the user's expressions (Confinement).
	"SELECT id FROM memories WHERE CAST(content AS INTEGER) = 1",
	"SELECT id FROM memories WHERE CASE WHEN system_id = '0042' THEN error(content) ELSE true END",
	"SELECT id FROM memories WHERE system_id = '0042' AND CAST(content AS INTEGER) = 1",
	"SELECT id FROM memories WHERE CAST(system_id AS INTEGER) = 42",
	"SELECT error(content) FROM memories WHERE system_id = '0042'",
	"SELECT json_extract(content::JSON, '$') FROM memories",
	"SELECT id FROM memories WHERE regexp_matches(content, '(' || content)",
	// Reaching the files or the catalog instead of the views.
	"SELECT * FROM read_parquet('{file}')",
	"SELECT * FROM read_parquet('{cache}/memories/**/*.parquet')",
	"SELECT * FROM glob('{cache}/**')",
	"SELECT * FROM '{file}'",
	"SELECT * FROM duckdb_views()",
	"SELECT sql FROM duckdb_views",
	"SELECT * FROM information_schema.views",
	"SELECT * FROM duckdb_temporary_files()",
	"SELECT * FROM query('SELECT * FROM memories')",
	"SELECT * FROM memories AT (VERSION => 1)",
	"SELECT current_query()",
	"SELECT * FROM duckdb_constraints()",
}

// confinedTo is views confined to systems; with allowed, the files holding
// no row of 0042 (all but its b.parquet) are flagged File.Allowed, as the
// query function flags the files it knows hold only the tenant's systems.
func confinedTo(views map[string]View, systems []string, allowed bool) map[string]View {
	out := map[string]View{}
	for name, v := range views {
		v.Confine = &Confinement{Systems: systems}
		v.Files = slices.Clone(v.Files)
		for i := range v.Files {
			v.Files[i].Allowed = allowed && !strings.Contains(v.Files[i].Path, "/b.parquet")
		}
		out[name] = v
	}
	return out
}

func TestConfinedViews(t *testing.T) {
	f := newFixture(t, Config{})
	for _, allowed := range []bool{false, true} {
		t.Run(fmt.Sprintf("allowed files %v", allowed), func(t *testing.T) {
			testConfinedViews(t, f, confinedTo(f.views, []string{"sys-a"}, allowed))
		})
	}

	// The default tenant's form: every system but another tenant's.
	deny := map[string]View{}
	for name, v := range f.views {
		v.Confine = &Confinement{Systems: []string{"0042"}, Deny: true}
		deny[name] = v
	}
	res, err := f.engine.Exec(t.Context(), Request{SQL: "SELECT DISTINCT system_id FROM memories", Views: deny})
	if err != nil || jsonOf(t, res.Rows) != `[["sys-a"]]` {
		t.Fatalf("all but 0042: %v, %v", res, err)
	}
	// A tenant without systems sees empty views of the right shape, even
	// of files flagged as holding only its systems.
	files := slices.Clone(f.views[ViewMemories].Files)
	for i := range files {
		files[i].Allowed = true
	}
	none := map[string]View{ViewMemories: {Files: files, Confine: &Confinement{}}}
	res, err = f.engine.Exec(t.Context(), Request{SQL: "SELECT count(*), max(embedding) FROM memories", Views: none})
	if err != nil || jsonOf(t, res.Rows) != `[[0,null]]` {
		t.Fatalf("no systems: %v, %v", res, err)
	}
	// Without a confinement the flag means nothing: every row is read.
	plain := map[string]View{ViewMemories: {Files: files}}
	res, err = f.engine.Exec(t.Context(), Request{SQL: "SELECT count(DISTINCT system_id) FROM memories", Views: plain})
	if err != nil || jsonOf(t, res.Rows) != `[[2]]` {
		t.Fatalf("unconfined: %v, %v", res, err)
	}
}

func testConfinedViews(t *testing.T, f *fixture, confined map[string]View) {
	run := func(sql string) (*Result, error) {
		return f.engine.Exec(t.Context(), Request{SQL: f.expand(sql), Views: confined})
	}
	res, err := run("SELECT DISTINCT system_id FROM memories")
	if err != nil || jsonOf(t, res.Rows) != `[["sys-a"]]` {
		t.Fatalf("confined to sys-a: %v, %v", res, err)
	}
	for i, sql := range tenantStatements {
		t.Run(fmt.Sprintf("%02d", i), func(t *testing.T) {
			res, err := run(sql)
			if err != nil {
				if !errors.Is(err, ErrRefused) && !errors.Is(err, ErrQuery) {
					t.Fatalf("%s: %v, want a refusal or a query error", sql, err)
				}
				if strings.Contains(err.Error(), "other system") || strings.Contains(err.Error(), "0042") && !strings.Contains(sql, "0042") {
					t.Fatalf("%s: the error reveals another tenant's row: %v", sql, err)
				}
				return
			}
			if got := jsonOf(t, res.Rows); strings.Contains(got, "other system") || strings.Contains(got, `"0042"`) {
				t.Fatalf("%s: another tenant's row in %s", sql, got)
			}
		})
	}
}

// FuzzConfined is a differential check of confinement: a statement over
// views confined to sys-a, on files that also hold another system's rows,
// must answer exactly what it answers over views of sys-a's files alone
// (rows compared as a multiset), or fail on both.
func FuzzConfined(f *testing.F) {
	fx := newFixture(f, Config{Timeout: 2 * time.Second})
	for _, s := range tenantStatements {
		f.Add(fx.expand(s))
	}
	// The confined views twice: every file tested row by row, and the
	// files holding only sys-a's rows read as they are (File.Allowed).
	confined := []map[string]View{confinedTo(fx.views, []string{"sys-a"}, false), confinedTo(fx.views, []string{"sys-a"}, true)}
	alone := map[string]View{}
	for name, v := range fx.views {
		a := View{}
		for _, file := range v.Files {
			if !strings.Contains(file.Path, "/b.parquet") { // 0042's only file
				a.Files = append(a.Files, file)
			}
		}
		alone[name] = a
	}
	volatile := regexp.MustCompile(`(?i)random|uuid|now|current_|gen_random|setseed|nextval|today|epoch_ms\(\)`)
	f.Fuzz(func(t *testing.T, text string) {
		if volatile.MatchString(text) {
			return
		}
		want, errA := fx.engine.Exec(t.Context(), Request{SQL: text, Limit: 200, Views: alone})
		for _, views := range confined {
			checkConfined(t, fx, text, views, want, errA)
		}
	})
}

// checkConfined is FuzzConfined's comparison of one form of the confined
// views with sys-a's files alone.
func checkConfined(t *testing.T, fx *fixture, text string, confined map[string]View, want *Result, errA error) {
	t.Helper()
	got, errC := fx.engine.Exec(t.Context(), Request{SQL: text, Limit: 200, Views: confined})
	if errors.Is(errC, ErrTimeout) || errors.Is(errA, ErrTimeout) {
		return
	}
	if (errC == nil) != (errA == nil) {
		t.Fatalf("%q: confined %v, alone %v", text, errC, errA)
	}
	if errC != nil {
		// The same error as over sys-a's files alone: one echoing the
		// statement's own text is not a leak.
		if strings.Contains(errC.Error(), "other system") && !strings.Contains(errA.Error(), "other system") {
			t.Fatalf("%q: the error names another tenant's content: %v", text, errC)
		}
		return
	}
	if got.Truncated || want.Truncated {
		return
	}
	g, w := sortedRows(t, got), sortedRows(t, want)
	if g == w || sameLetters(g, w) {
		return
	}
	// Order-dependent aggregates (string_agg, first, any_value) may
	// pick differently among the tenant's own rows; what must never
	// differ is another tenant's values showing up.
	if len(got.Rows) != len(want.Rows) {
		t.Fatalf("%q: confined answered %d rows, sys-a's files alone %d", text, len(got.Rows), len(want.Rows))
	}
	for _, m := range []string{"other system", "0042"} {
		if strings.Contains(g, m) && !strings.Contains(w, m) {
			t.Fatalf("%q: confined answered %s, sys-a's files alone %s", text, g, w)
		}
	}
}

// sameLetters reports whether a and b hold the same characters, in any
// order: the same rows aggregated in another order.
func sameLetters(a, b string) bool {
	x, y := []rune(a), []rune(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

func sortedRows(t *testing.T, r *Result) string {
	rows := make([]string, len(r.Rows))
	for i, row := range r.Rows {
		rows[i] = jsonOf(t, row)
	}
	slices.Sort(rows)
	return strings.Join(rows, "\n")
}
