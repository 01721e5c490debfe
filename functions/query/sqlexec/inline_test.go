package sqlexec

import (
	"testing"
)

// Statements that start plainly run with the views inlined as CTEs (bound
// once); the others take the view path. Both give the same answers.
func TestInlinedViewsAnswerAsViews(t *testing.T) {
	f := newFixture(t, Config{})
	for _, tt := range []struct {
		sql    string
		inline bool
	}{
		{"SELECT count(*) FROM memories", true},
		{"  select id FROM memories WHERE day = DATE '2026-11-02' ORDER BY id", true},
		{"FROM memories SELECT count(*) AS n", true},
		{"WITH d AS (SELECT id FROM memories WHERE id = 'dup') SELECT count(*) FROM d", true},
		{"SELECT (SELECT count(*) FROM entities), count(*) FROM memories m WHERE EXISTS (SELECT 1 FROM memories x WHERE x.id = m.id AND x.system_id <> m.system_id)", true},
		// id is unique only within a system: order by both so the answer is one.
		{"SELECT id, content FROM memories ORDER BY id, system_id LIMIT 2 -- a trailing comment", true},
		// The view path: a leading comment, WITH RECURSIVE, a CTE of a
		// view's name, a column that needs the casting wrapper.
		{"-- lead\nSELECT count(*) FROM memories", false},
		{"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT count(*) FROM memories, r", false},
		{"WITH memories AS (SELECT 1 AS x) SELECT count(*) FROM memories", false},
		{"(SELECT count(*) FROM memories)", false},
	} {
		before := f.engine.inlined.Load()
		got, err := f.exec(t, tt.sql, 0)
		if err != nil {
			t.Fatalf("%q: %v", tt.sql, err)
		}
		if inlined := f.engine.inlined.Load() > before; inlined != tt.inline {
			t.Errorf("%q: inlined %v, want %v", tt.sql, inlined, tt.inline)
		}
		// The same statement through the view path only: a second engine
		// call with a comment in front takes it.
		want, err := f.exec(t, "/* view path */ "+tt.sql, 0)
		if err != nil {
			t.Fatalf("%q (view path): %v", tt.sql, err)
		}
		if jsonOf(t, got.Rows) != jsonOf(t, want.Rows) || jsonOf(t, got.Columns) != jsonOf(t, want.Columns) {
			t.Errorf("%q: inline %s %s, views %s %s", tt.sql, jsonOf(t, got.Columns), jsonOf(t, got.Rows),
				jsonOf(t, want.Columns), jsonOf(t, want.Rows))
		}
	}
	// A user's error reads the same either way.
	if _, err := f.exec(t, "SELECT nope FROM memories", 0); err == nil {
		t.Error("unknown column accepted")
	}
}
