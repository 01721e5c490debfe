package sqlexec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestViewColumnsAndTypes(t *testing.T) {
	f := newFixture(t, Config{})
	res := f.mustExec(t, "SELECT * FROM memories WHERE system_id = 'sys-a' AND id = 'm1'")
	want := []Column{
		{Name: "system_id", Type: "VARCHAR"}, {Name: "id", Type: "VARCHAR"}, {Name: "kind", Type: "VARCHAR"}, {Name: "content", Type: "VARCHAR"},
		{Name: "embedding", Type: "FLOAT[384]"}, {Name: "created_at", Type: "TIMESTAMP WITH TIME ZONE"},
		{Name: "project", Type: "VARCHAR"}, {Name: "namespace", Type: "VARCHAR"}, {Name: "session_id", Type: "VARCHAR"}, {Name: "user_id", Type: "VARCHAR"},
		{Name: "category", Type: "VARCHAR"}, {Name: "subcategory", Type: "VARCHAR"}, {Name: "tags", Type: "VARCHAR[]"}, {Name: "importance", Type: "DOUBLE"},
		{Name: "source_type", Type: "VARCHAR"}, {Name: "metadata", Type: "JSON"}, {Name: "ingested_at", Type: "TIMESTAMP WITH TIME ZONE"}, {Name: "expires_at", Type: "TIMESTAMP WITH TIME ZONE"},
		{Name: "tier", Type: "VARCHAR"}, {Name: "day", Type: "DATE"},
	}
	if got := jsonOf(t, res.Columns); got != jsonOf(t, want) {
		t.Fatalf("columns\n got %s\nwant %s", got, jsonOf(t, want))
	}
	if res.RowCount != 1 || len(res.Rows) != 1 || res.Truncated {
		t.Fatalf("rows: %d/%d truncated %v", res.RowCount, len(res.Rows), res.Truncated)
	}
	row := res.Rows[0]
	byName := map[string]any{}
	for i, c := range res.Columns {
		byName[c.Name] = row[i]
	}
	checks := map[string]string{
		"system_id":  `"sys-a"`,
		"created_at": `"2026-11-01T10:20:30.123456Z"`,
		"day":        `"2026-11-01"`,
		"tier":       `"hot"`,
		"tags":       `["x","y"]`,
		"importance": `0.75`,
		"metadata":   meta, // raw: key order and the 20-digit number survive
		"namespace":  `null`,
	}
	for name, want := range checks {
		if got := jsonOf(t, byName[name]); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	emb, ok := byName["embedding"].([]float32)
	if !ok || len(emb) != 384 || emb[0] != 0.5 || emb[383] != 0.5+383.0/1024 {
		t.Errorf("embedding = %T len %d", byName["embedding"], len(emb))
	}

	// A record without embedding, metadata or tags: NULLs (an empty tag
	// list stays an empty list).
	res = f.mustExec(t, "SELECT embedding, metadata, tags FROM memories WHERE id IN ('m2', 'm3') ORDER BY id")
	if got := jsonOf(t, res.Rows); got != `[[null,null,null],[null,null,[]]]` {
		t.Errorf("absent values: %s", got)
	}

	// system_id keeps its leading zeros: hive_types makes it VARCHAR.
	res = f.mustExec(t, "SELECT system_id, tier, day FROM memories WHERE content = 'other system'")
	if got := jsonOf(t, res.Rows); got != `[["0042","warm","2026-10-01"]]` {
		t.Errorf("partition columns: %s", got)
	}
}

func TestEntitiesAndEmptyViews(t *testing.T) {
	f := newFixture(t, Config{})
	res := f.mustExec(t, "SELECT name, observations, properties, embedding[1], updated_at, day FROM entities")
	if got := jsonOf(t, res.Rows); got != `[["Go",["fast"],{"k":"v"},1,"2026-11-01T10:20:30.123456Z","2026-11-01"]]` {
		t.Errorf("entities: %s", got)
	}
	// relations has no files in the fixture: right columns, no rows.
	res = f.mustExec(t, "SELECT * FROM relations")
	if res.RowCount != 0 || len(res.Rows) != 0 {
		t.Fatalf("relations: %d rows", res.RowCount)
	}
	var names []string
	for _, c := range res.Columns {
		names = append(names, c.Name+" "+c.Type)
	}
	want := "system_id VARCHAR,id VARCHAR,from_entity VARCHAR,to_entity VARCHAR,relation_type VARCHAR," +
		"properties JSON,created_at TIMESTAMP WITH TIME ZONE,ingested_at TIMESTAMP WITH TIME ZONE,tier VARCHAR,day DATE"
	if got := strings.Join(names, ","); got != want {
		t.Errorf("relations columns\n got %s\nwant %s", got, want)
	}
	// A request without views at all still binds every view.
	res, err := f.engine.Exec(context.Background(), Request{SQL: "SELECT count(*) AS n FROM memories, entities, relations"})
	if err != nil {
		t.Fatal(err)
	}
	if got := jsonOf(t, res); got != `{"columns":[{"name":"n","type":"BIGINT"}],"rows":[[0]],"row_count":1,"truncated":false}` {
		t.Errorf("empty views: %s", got)
	}
}

func TestDedupLatestWins(t *testing.T) {
	f := newFixture(t, Config{})
	res := f.mustExec(t, "SELECT id, content FROM memories WHERE day = DATE '2026-11-02' ORDER BY id")
	if got := jsonOf(t, res.Rows); got != `[["dup","v7"],["moved","newer"],["solo","solo"]]` {
		t.Errorf("dedup: %s", got)
	}
	res = f.mustExec(t, "SELECT count(*) FROM memories")
	if got := jsonOf(t, res.Rows); got != fmt.Sprintf("[[%d]]", f.memories) {
		t.Errorf("count: %s, want %d", got, f.memories)
	}

	// Unflagged files are not compared: the same key in two of them stays
	// twice (the caller's contract), and m1 of another system is another key.
	views := map[string]View{ViewMemories: {Files: []File{
		f.views[ViewMemories].Files[0], f.views[ViewMemories].Files[1],
		{Path: f.views[ViewMemories].Files[2].Path, Seq: 5},
		{Path: f.views[ViewMemories].Files[3].Path, Seq: 7},
	}}}
	res, err := f.engine.Exec(context.Background(), Request{
		SQL: "SELECT count(*) FILTER (id = 'dup'), count(*) FILTER (id = 'm1'), count(*) FILTER (id = 'moved') FROM memories", Views: views})
	if err != nil {
		t.Fatal(err)
	}
	if got := jsonOf(t, res.Rows); got != `[[3,2,2]]` {
		t.Errorf("plain path: %s", got)
	}
}

func TestLimit(t *testing.T) {
	f := newFixture(t, Config{MaxRows: 100})
	tests := []struct {
		name      string
		sql       string
		limit     int
		rows      int
		truncated bool
	}{
		{"default is MaxRows", "SELECT * FROM range(150)", 0, 100, true},
		{"request limit", "SELECT * FROM range(150)", 10, 10, true},
		{"capped by MaxRows", "SELECT * FROM range(150)", 1000, 100, true},
		{"exactly the limit", "SELECT * FROM range(10)", 10, 10, false},
		{"under the limit", "SELECT * FROM range(3)", 10, 3, false},
		{"statement's own smaller LIMIT", "SELECT * FROM range(150) LIMIT 5", 10, 5, false},
		{"statement's own bigger LIMIT", "SELECT * FROM range(150) LIMIT 50", 10, 10, true},
		{"no rows", "SELECT * FROM range(0)", 10, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := f.exec(t, tt.sql, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if res.RowCount != tt.rows || len(res.Rows) != tt.rows || res.Truncated != tt.truncated {
				t.Errorf("rows %d/%d truncated %v, want %d %v", res.RowCount, len(res.Rows), res.Truncated, tt.rows, tt.truncated)
			}
		})
	}
	// The statement's order survives the limit.
	res, err := f.exec(t, "SELECT range AS x FROM range(100000) ORDER BY x DESC", 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := jsonOf(t, res.Rows); got != `[[99999],[99998],[99997]]` {
		t.Errorf("order: %s", got)
	}
	if _, err := f.exec(t, "SELECT 1", -1); !errors.Is(err, ErrBadRequest) {
		t.Errorf("negative limit: %v", err)
	}
}

func TestTimeout(t *testing.T) {
	f := newFixture(t, Config{Timeout: 500 * time.Millisecond})
	start := time.Now()
	_, err := f.exec(t, "SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b", 0)
	elapsed := time.Since(start)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if !strings.Contains(err.Error(), "timed out after 500ms") {
		t.Errorf("unclear message: %v", err)
	}
	if elapsed > 5*time.Second {
		t.Errorf("took %v to time out", elapsed)
	}
	// The engine is fine afterwards.
	res := f.mustExec(t, "SELECT count(*) FROM memories")
	if got := jsonOf(t, res.Rows); got != fmt.Sprintf("[[%d]]", f.memories) {
		t.Errorf("after timeout: %s", got)
	}

	// A caller's cancellation is not a timeout.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = f.engine.Exec(ctx, Request{SQL: "SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b"})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Errorf("canceled: %v", err)
	}
}

func TestLiteralTypes(t *testing.T) {
	f := newFixture(t, Config{})
	tests := []struct {
		expr, typ, json string
	}{
		{"42", "INTEGER", "42"},
		{"42::TINYINT", "TINYINT", "42"},
		{"42::UBIGINT", "UBIGINT", "42"},
		{"18446744073709551615::UBIGINT", "UBIGINT", "18446744073709551615"},
		{"170141183460469231731687303715884105727::HUGEINT", "HUGEINT", "170141183460469231731687303715884105727"},
		{"sum(range) FROM range(10)", "HUGEINT", "45"},
		{"1.50::DECIMAL(10,2)", "DECIMAL(10,2)", "1.5"},
		{"-0.05::DECIMAL(4,2)", "DECIMAL(4,2)", "-0.05"},
		{"12345678901234567890.123::DECIMAL(38,3)", "DECIMAL(38,3)", "12345678901234567890.123"},
		{"0.1::FLOAT", "FLOAT", "0.1"},
		{"'NaN'::DOUBLE", "DOUBLE", `"NaN"`},
		{"'-inf'::FLOAT", "FLOAT", `"-Infinity"`},
		{"true", "BOOLEAN", "true"},
		{"'héllo \"q\"'", "VARCHAR", `"héllo \"q\""`},
		{"'\\x00\\xFF'::BLOB", "BLOB", `"AP8="`},
		{"DATE '2026-11-01'", "DATE", `"2026-11-01"`},
		{"TIME '10:11:12.5'", "TIME", `"10:11:12.5"`},
		{"TIMETZ '10:11:12+02'", "TIME WITH TIME ZONE", `"10:11:12+02:00"`},
		{"TIMESTAMP '2026-01-02 03:04:05.123456'", "TIMESTAMP", `"2026-01-02T03:04:05.123456Z"`},
		{"TIMESTAMPTZ '2026-01-02 03:04:05+02'", "TIMESTAMP WITH TIME ZONE", `"2026-01-02T01:04:05Z"`},
		{"'2026-01-02 03:04:05.123456789'::TIMESTAMP_NS", "TIMESTAMP_NS", `"2026-01-02T03:04:05.123456789Z"`},
		{"INTERVAL '1 year 2 months 3 days 04:05:06.5'", "INTERVAL", `"P1Y2M3DT4H5M6.5S"`},
		{"INTERVAL '0 seconds'", "INTERVAL", `"PT0S"`},
		{"'6ba7b810-9dad-11d1-80b4-00c04fd430c8'::UUID", "UUID", `"6ba7b810-9dad-11d1-80b4-00c04fd430c8"`},
		{"[1, 2, NULL]", "INTEGER[]", "[1,2,null]"},
		{"[1.5, 'NaN'::DOUBLE]", "DOUBLE[]", `[1.5,"NaN"]`},
		{"[0.25, 0.5]::FLOAT[2]", "FLOAT[2]", "[0.25,0.5]"},
		{"[[1], [2, 3]]", "INTEGER[][]", "[[1],[2,3]]"},
		{"{'b': 1, 'a': [TIMESTAMPTZ '2026-01-01 00:00:00+00']}", "STRUCT(b INTEGER, a TIMESTAMP WITH TIME ZONE[])", `{"b":1,"a":["2026-01-01T00:00:00Z"]}`},
		{"{'x y': 1}", `STRUCT("x y" INTEGER)`, `{"x y":1}`},
		{"MAP {'k': 1, 'j': 2}", "MAP(VARCHAR, INTEGER)", `{"k":1,"j":2}`},
		{"MAP {2: 'two', 1: 'one'}", "MAP(INTEGER, VARCHAR)", `{"2":"two","1":"one"}`},
		{"MAP {[1]: 2}", "MAP(INTEGER[], INTEGER)", `"{[1]=2}"`},
		{"'{\"z\": 1, \"a\": [true]}'::JSON", "JSON", `{"z":1,"a":[true]}`},
		{"['{\"a\":1}'::JSON]", "JSON[]", `[{"a":1}]`},
		{"union_value(num := 2)::UNION(num INTEGER, str VARCHAR)", "UNION(num INTEGER, str VARCHAR)", "2"},
		{"'a'::ENUM('a', 'b')", "ENUM('a', 'b')", `"a"`},
		{"NULL", "INTEGER", "null"}, // DuckDB types a bare NULL column as INTEGER
		{"NULL::INTEGER", "INTEGER", "null"},
		{"340282366920938463463374607431768211455::UHUGEINT", "UHUGEINT", "340282366920938463463374607431768211455"},
		{"'101'::BIT", "BIT", `"101"`},
		{"'POINT(1 2)'::GEOMETRY", "GEOMETRY", `"AQEAAAAAAAAAAADwPwAAAAAAAABA"`},
		// Types the driver cannot return arrive as text.
		{"'10:11:12'::TIME_NS", "VARCHAR", `"10:11:12"`},
		{"[1::VARIANT]", "VARCHAR[]", `["1"]`},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			sql := "SELECT " + tt.expr
			res, err := f.exec(t, sql, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Columns) != 1 || res.Columns[0].Type != tt.typ {
				t.Errorf("type %v, want %s", res.Columns, tt.typ)
			}
			if got := jsonOf(t, res.Rows); got != "[["+tt.json+"]]" {
				t.Errorf("value %s, want [[%s]]", got, tt.json)
			}
		})
	}
}

func TestColumnNamesFromUserText(t *testing.T) {
	f := newFixture(t, Config{})
	res := f.mustExec(t, "SELECT '10:11:12'::TIME_NS, count(*), 1+1 FROM memories")
	if got := jsonOf(t, res.Columns); got != `[{"name":"CAST('10:11:12' AS \"TIME_NS\")","type":"VARCHAR"},{"name":"count_star()","type":"BIGINT"},{"name":"(1 + 1)","type":"INTEGER"}]` {
		t.Errorf("columns %s", got)
	}
}

func TestDuplicateColumnNames(t *testing.T) {
	f := newFixture(t, Config{})
	res := f.mustExec(t, `SELECT 1 AS a, '"x"'::JSON AS a, 2 AS a_1`)
	if got := jsonOf(t, res); got != `{"columns":[{"name":"a","type":"INTEGER"},{"name":"a","type":"JSON"},{"name":"a_1","type":"INTEGER"}],"rows":[[1,"x",2]],"row_count":1,"truncated":false}` {
		t.Errorf("got %s", got)
	}
	if got := uniqueNames(res.Columns); strings.Join(got, ",") != "a,a_2,a_1" {
		t.Errorf("unique names %v", got)
	}
}

// TestNoStateLeaks checks that nothing of one request reaches the next: not
// its views' files, not a TEMP object or setting made on its connection.
func TestNoStateLeaks(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()

	// A connection the way a request gets one, with state on it...
	conn, err := f.engine.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"CREATE TEMP TABLE leak AS SELECT 1 AS x",
		"CREATE TEMP VIEW memories AS SELECT 'leaked' AS content",
		"CREATE TEMP MACRO leaky() AS 1",
	} {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	// lock_configuration locks global settings; some session settings can
	// still change on a connection (the guard refuses SET, so only the
	// engine could), but never beyond it.
	_, err = conn.ExecContext(ctx, "SET TimeZone = 'America/New_York'")
	t.Logf("SET TimeZone on a locked database's connection: %v", err)
	_, err = conn.ExecContext(ctx, "SET search_path = 'temp'")
	t.Logf("SET search_path on a locked database's connection: %v", err)
	if _, err := conn.ExecContext(ctx, "SET GLOBAL memory_limit = '10GB'"); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Errorf("SET GLOBAL on a locked database: %v", err)
	}
	conn.Close()

	// ...is gone for the next one.
	conn, err = f.engine.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM duckdb_tables() WHERE temporary").Scan(&n); err != nil || n != 0 {
		t.Errorf("temp tables on a new connection: %d, %v", n, err)
	}
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM duckdb_views() WHERE temporary AND NOT internal").Scan(&n); err != nil || n != 0 {
		t.Errorf("temp views on a new connection: %d, %v", n, err)
	}
	var tz, path string
	if err := conn.QueryRowContext(ctx, "SELECT current_setting('TimeZone'), current_setting('search_path')").Scan(&tz, &path); err != nil || tz != "UTC" || path != "" {
		t.Errorf("settings on a new connection: TimeZone %q search_path %q, %v", tz, path, err)
	}
	conn.Close()

	// Requests see their own files only.
	res := f.mustExec(t, "SELECT count(*) FROM memories")
	if got := jsonOf(t, res.Rows); got != fmt.Sprintf("[[%d]]", f.memories) {
		t.Errorf("count %s", got)
	}
	res, err = f.engine.Exec(ctx, Request{SQL: "SELECT count(*) FROM memories"})
	if err != nil || jsonOf(t, res.Rows) != "[[0]]" {
		t.Errorf("a request without files sees %v, %v", res, err)
	}

	// Refused attempts change nothing either.
	for _, s := range []string{
		"SET TimeZone = 'America/New_York'",
		"SET GLOBAL TimeZone = 'America/New_York'",
		"CREATE TEMP TABLE t AS SELECT 1",
		"CREATE MACRO m() AS 1",
	} {
		if _, err := f.exec(t, s, 0); !errors.Is(err, ErrRefused) {
			t.Errorf("%s: %v", s, err)
		}
	}
	res = f.mustExec(t, "SELECT CAST(TIMESTAMPTZ '2026-01-01 00:00:00+00' AS VARCHAR), (SELECT count(*) FROM range(1))")
	if got := jsonOf(t, res.Rows); got != `[["2026-01-01 00:00:00+00",1]]` {
		t.Errorf("time zone: %s", got)
	}
}

func TestConcurrentRequests(t *testing.T) {
	f := newFixture(t, Config{})
	all := f.views
	some := map[string]View{ViewMemories: {Files: all[ViewMemories].Files[:1]}}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			views, want := all, f.memories
			if i%2 == 1 {
				views, want = some, 3
			}
			res, err := f.engine.Exec(context.Background(), Request{SQL: "SELECT count(*) FROM memories", Views: views})
			if err != nil {
				errs <- err
				return
			}
			if got := res.Rows[0][0]; got != int64(want) {
				errs <- fmt.Errorf("request %d: count %v, want %d", i, got, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestBadRequests(t *testing.T) {
	f := newFixture(t, Config{})
	inCache := f.views[ViewMemories].Files[0].Path
	tests := []struct {
		name  string
		views map[string]View
	}{
		{"unknown view", map[string]View{"secrets": {}}},
		{"outside the cache", map[string]View{ViewMemories: {Files: []File{{Path: "/etc/passwd"}}}}},
		{"relative", map[string]View{ViewMemories: {Files: []File{{Path: "cache/x.parquet"}}}}},
		{"dot-dot", map[string]View{ViewMemories: {Files: []File{{Path: f.cache + "/../outside/x.parquet"}}}}},
		{"glob", map[string]View{ViewMemories: {Files: []File{{Path: f.cache + "/*.parquet"}}}}},
		{"the cache itself", map[string]View{ViewMemories: {Files: []File{{Path: f.cache}}}}},
		{"sibling with the cache as prefix", map[string]View{ViewMemories: {Files: []File{{Path: f.cache + "2/x.parquet"}}}}},
		{"bad column type", map[string]View{ViewMemories: {Files: []File{{Path: inCache}},
			Columns: []ColumnDef{{Name: "id", Type: "VARCHAR) AS x FROM read_text('/etc/passwd') --"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.engine.Exec(context.Background(), Request{SQL: "SELECT 1", Views: tt.views})
			if !errors.Is(err, ErrBadRequest) {
				t.Errorf("err = %v, want ErrBadRequest", err)
			}
		})
	}
}

func TestCustomColumns(t *testing.T) {
	f := newFixture(t, Config{})
	views := map[string]View{ViewMemories: {
		Files: f.views[ViewMemories].Files[:1],
		Columns: []ColumnDef{
			{Name: "id", Type: "VARCHAR"},
			{Name: "dims", Type: "INTEGER", Expr: "len(embedding)"},
			{Name: "day", Type: "DATE"},
		},
	}}
	res, err := f.engine.Exec(context.Background(), Request{SQL: "SELECT * FROM memories ORDER BY id", Views: views})
	if err != nil {
		t.Fatal(err)
	}
	if got := jsonOf(t, res); got != `{"columns":[{"name":"id","type":"VARCHAR"},{"name":"dims","type":"INTEGER"},{"name":"day","type":"DATE"}],"rows":[["m1",384,"2026-11-01"],["m2",null,"2026-11-01"],["m3",null,"2026-11-01"]],"row_count":3,"truncated":false}` {
		t.Errorf("got %s", got)
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	for _, cfg := range []Config{
		{},
		{AllowedDirs: []string{"relative"}},
		{AllowedDirs: []string{dir + "/missing"}},
		{AllowedDirs: []string{dir}, Threads: -1},
		{AllowedDirs: []string{dir}, MemoryLimit: "lots"},
	} {
		if e, err := New(cfg); err == nil {
			e.Close()
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	e, err := New(Config{AllowedDirs: []string{dir}, MemoryLimit: "256MB", Threads: 1, MaxTempDirSize: "1GB"})
	if err != nil {
		t.Fatal(err)
	}
	temp := e.ownedTemp
	if temp == "" {
		t.Fatal("no private spill directory")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(temp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("private spill directory left behind: %v", err)
	}
}
