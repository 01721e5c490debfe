package sqlexec

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
)

// roundTripSQL selects the fixture's memories and a literal of most types
// whose Parquet form reads back as the same value.
const roundTripSQL = `SELECT m.*,
	42::TINYINT AS tiny, 18446744073709551615::UBIGINT AS ubig, 4000000000::UINTEGER AS uint,
	-99999999999999999999999999999999999999::HUGEINT AS huge,
	-0.05::DECIMAL(4,2) AS d4, 123456789012.345::DECIMAL(18,3) AS d18,
	-12345678901234567890.123::DECIMAL(38,3) AS d38,
	0.1::FLOAT AS f, 'NaN'::DOUBLE AS nan, true AS b, '\x00\xFF'::BLOB AS blob,
	TIME '10:11:12.5' AS tm, TIMESTAMP '1969-12-31 23:59:59.999999' AS ts,
	'2026-01-02 03:04:05.123456789'::TIMESTAMP_NS AS tsns, DATE '1900-02-28' AS old,
	'6ba7b810-9dad-11d1-80b4-00c04fd430c8'::UUID AS u,
	{'b': 1, 'a': [TIMESTAMPTZ '2026-01-01 00:00:00+00', NULL]} AS st,
	CASE WHEN m.id = 'm2' THEN NULL ELSE {'x': m.id} END AS nullable_struct,
	MAP {'j': NULL, 'k': 1} AS mp, [[1], [], NULL, [2, NULL]] AS nested, []::INTEGER[] AS empty,
	[0.5, 'NaN'::DOUBLE] AS dl
FROM memories m ORDER BY m.system_id, m.id`

func rawDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1) // one connection: TEMP views stay visible
	return db
}

// readBack compares a Parquet file with the rows of query (on a plain,
// unsandboxed DuckDB with the fixture's views) and returns the file's
// column types.
func readBack(t *testing.T, f *fixture, path, query string) []string {
	t.Helper()
	db := rawDB(t)
	for _, name := range viewNames {
		if _, err := db.Exec(viewSQL(name, f.views[name])); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec("SET TimeZone = 'UTC'"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TEMP TABLE want AS " + query); err != nil {
		t.Fatal(err)
	}
	file := Quote(path)
	var n, missing, extra int
	err := db.QueryRow(`SELECT (SELECT count(*) FROM read_parquet(`+file+`)),
		(SELECT count(*) FROM (FROM want EXCEPT ALL FROM read_parquet(`+file+`))),
		(SELECT count(*) FROM (FROM read_parquet(`+file+`) EXCEPT ALL FROM want))`).Scan(&n, &missing, &extra)
	if err != nil {
		t.Fatal(err)
	}
	var want int
	if err := db.QueryRow("SELECT count(*) FROM want").Scan(&want); err != nil {
		t.Fatal(err)
	}
	if n != want || missing != 0 || extra != 0 {
		t.Errorf("read back %d rows, want %d; %d missing, %d extra", n, want, missing, extra)
		for _, q := range []string{"FROM want EXCEPT ALL FROM read_parquet(" + file + ")", "FROM read_parquet(" + file + ") EXCEPT ALL FROM want"} {
			var s string
			if err := db.QueryRow("SELECT CAST(list(to_json(x)) AS VARCHAR) FROM (" + q + ") x").Scan(&s); err == nil {
				t.Logf("%s:\n%s", q, s)
			}
		}
	}
	rows, err := db.Query("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(" + file + "))")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var types []string
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		types = append(types, name+" "+typ)
	}
	return types
}

func TestWriteParquetRoundTrip(t *testing.T) {
	f := newFixture(t, Config{})
	res := f.mustExec(t, roundTripSQL)
	if res.RowCount != f.memories {
		t.Fatalf("%d rows", res.RowCount)
	}
	dir := t.TempDir()

	path := filepath.Join(dir, "res.parquet")
	var buf bytes.Buffer
	if err := WriteParquet(&buf, res); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	types := readBack(t, f, path, roundTripSQL)

	// Types read back as the result's, except where Parquet has no
	// equivalent: fixed-size arrays become lists, HUGEINT DECIMAL(38,0).
	var want []string
	for _, c := range res.Columns {
		typ := c.Type
		switch {
		case typ == "FLOAT[384]":
			typ = "FLOAT[]"
		case typ == "HUGEINT":
			typ = "DECIMAL(38,0)"
		}
		want = append(want, c.Name+" "+typ)
	}
	if got, w := strings.Join(types, "\n"), strings.Join(want, "\n"); got != w {
		t.Errorf("types read back\n got:\n%s\nwant:\n%s", got, w)
	}

	// A Result decoded from its JSON (as from a cache) writes the same file,
	// but for JSON objects, whose keys a map does not keep in order.
	res = f.mustExec(t, "SELECT * EXCLUDE (metadata) FROM ("+roundTripSQL+")")
	var js bytes.Buffer
	if err := WriteJSON(&js, res); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(&js)
	dec.UseNumber()
	var decoded Result
	if err := dec.Decode(&decoded); err != nil {
		t.Fatal(err)
	}
	path2 := filepath.Join(dir, "decoded.parquet")
	buf.Reset()
	if err := WriteParquet(&buf, &decoded); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path2, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	readBack(t, f, path2, "SELECT * EXCLUDE (metadata) FROM ("+roundTripSQL+")")
}

func TestWriteParquetEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		res  *Result
	}{
		{"no rows", &Result{Columns: []Column{{Name: "a", Type: "INTEGER"}}}},
		{"no columns", &Result{}},
		{"odd types", &Result{
			Columns: []Column{{Name: "a", Type: "INTERVAL"}, {Name: "b", Type: "SOMETHING(ELSE"}, {Name: "c", Type: "UNION(a INTEGER)"}, {Name: "d", Type: "DECIMAL(60,2)"}},
			Rows:    [][]any{{"P1D", "x", int64(1), json.Number("1.5")}},
		}},
		{"duplicate names", &Result{Columns: []Column{{Name: "a", Type: "INTEGER"}, {Name: "a", Type: "VARCHAR"}}, Rows: [][]any{{int64(1), "x"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteParquet(&buf, tt.res); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "x.parquet")
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			var n int
			if len(tt.res.Columns) == 0 {
				return // a file without columns is not worth reading back
			}
			if err := rawDB(t).QueryRow("SELECT count(*) FROM read_parquet(" + Quote(path) + ")").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != len(tt.res.Rows) {
				t.Errorf("%d rows, want %d", n, len(tt.res.Rows))
			}
		})
	}
	// Values that do not fit their column are errors, not panics.
	for _, res := range []*Result{
		{Columns: []Column{{Name: "a", Type: "TINYINT"}}, Rows: [][]any{{int64(300)}}},
		{Columns: []Column{{Name: "a", Type: "DATE"}}, Rows: [][]any{{"yesterday"}}},
		{Columns: []Column{{Name: "a", Type: "INTEGER[]"}}, Rows: [][]any{{"not a list"}}},
		{Columns: []Column{{Name: "a", Type: "STRUCT(x INTEGER)"}}, Rows: [][]any{{json.RawMessage(`[1]`)}}},
		{Columns: []Column{{Name: "a", Type: "MAP(VARCHAR, INTEGER)"}}, Rows: [][]any{{json.RawMessage(`{"k": "v"}`)}}},
		{Columns: []Column{{Name: "a", Type: "DECIMAL(4,2)"}}, Rows: [][]any{{json.Number("1.234")}}},
		{Columns: []Column{{Name: "a", Type: "INTEGER"}}, Rows: [][]any{{int64(1), int64(2)}}},
		{Columns: []Column{{Name: "a", Type: "HUGEINT"}}, Rows: [][]any{{json.Number("170141183460469231731687303715884105727")}}},
	} {
		if err := WriteParquet(new(bytes.Buffer), res); err == nil {
			t.Errorf("%v %v: no error", res.Columns, res.Rows)
		}
	}
}

func TestTextFormats(t *testing.T) {
	f := newFixture(t, Config{})
	res, err := f.engine.Exec(context.Background(), Request{
		SQL: `SELECT id, created_at, day, tags, metadata, importance, 'a,"b"' AS q, NULL::INTEGER AS n, '\x01'::BLOB AS bl, 1 AS id
			FROM memories WHERE system_id = 'sys-a' AND id IN ('m1', 'm2') ORDER BY id`,
		Limit: 1, Views: f.views,
	})
	if err != nil {
		t.Fatal(err)
	}

	var js bytes.Buffer
	if err := WriteJSON(&js, res); err != nil {
		t.Fatal(err)
	}
	wantJSON := `{"columns":[{"name":"id","type":"VARCHAR"},{"name":"created_at","type":"TIMESTAMP WITH TIME ZONE"},` +
		`{"name":"day","type":"DATE"},{"name":"tags","type":"VARCHAR[]"},{"name":"metadata","type":"JSON"},` +
		`{"name":"importance","type":"DOUBLE"},{"name":"q","type":"VARCHAR"},{"name":"n","type":"INTEGER"},` +
		`{"name":"bl","type":"BLOB"},{"name":"id","type":"INTEGER"}],` +
		`"rows":[["m1","2026-11-01T10:20:30.123456Z","2026-11-01",["x","y"],` + meta + `,0.75,"a,\"b\"",null,"AQ==",1]],` +
		`"row_count":1,"truncated":true}` + "\n"
	if js.String() != wantJSON {
		t.Errorf("JSON\n got %s\nwant %s", js.String(), wantJSON)
	}

	var nd bytes.Buffer
	if err := WriteNDJSON(&nd, res); err != nil {
		t.Fatal(err)
	}
	wantND := `{"id":"m1","created_at":"2026-11-01T10:20:30.123456Z","day":"2026-11-01","tags":["x","y"],` +
		`"metadata":` + meta + `,"importance":0.75,"q":"a,\"b\"","n":null,"bl":"AQ==","id_1":1}` + "\n"
	if nd.String() != wantND {
		t.Errorf("NDJSON\n got %s\nwant %s", nd.String(), wantND)
	}

	var cs bytes.Buffer
	if err := WriteCSV(&cs, res); err != nil {
		t.Fatal(err)
	}
	wantCSV := "id,created_at,day,tags,metadata,importance,q,n,bl,id\n" +
		`m1,2026-11-01T10:20:30.123456Z,2026-11-01,"[""x"",""y""]","` + strings.ReplaceAll(meta, `"`, `""`) + `",0.75,"a,""b""",,AQ==,1` + "\n"
	if cs.String() != wantCSV {
		t.Errorf("CSV\n got %s\nwant %s", cs.String(), wantCSV)
	}

	// An empty result is still well formed.
	empty := &Result{Columns: []Column{{Name: "a", Type: "INTEGER"}}}
	js.Reset()
	if err := WriteJSON(&js, empty); err != nil || js.String() != `{"columns":[{"name":"a","type":"INTEGER"}],"rows":[],"row_count":0,"truncated":false}`+"\n" {
		t.Errorf("empty JSON %q, %v", js.String(), err)
	}
	cs.Reset()
	if err := WriteCSV(&cs, empty); err != nil || cs.String() != "a\n" {
		t.Errorf("empty CSV %q, %v", cs.String(), err)
	}
}
