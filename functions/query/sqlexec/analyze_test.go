package sqlexec

import (
	"context"
	"fmt"
	"testing"
)

func TestAnalyze(t *testing.T) {
	e, err := New(Config{AllowedDirs: []string{t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	cases := []struct {
		sql  string
		want string
	}{
		{`SELECT count(*) FROM memories`, `[{memories []}]`},
		{`SELECT * FROM memories WHERE system_id = 'a' AND day = DATE '2026-11-01'`,
			`[{memories [{system_id = [a]} {day = [2026-11-01]}]}]`},
		{`SELECT * FROM memories m WHERE m.system_id IN ('a','b') AND '2026-11-02' >= m.day`,
			`[{memories [{system_id in [a b]} {day <= [2026-11-02]}]}]`},
		{`SELECT * FROM memories WHERE created_at BETWEEN '2026-01-01' AND '2026-02-01' AND tier = 'hot'`,
			`[{memories [{created_at >= [2026-01-01]} {created_at <= [2026-02-01]} {tier = [hot]}]}]`},
		// OR cannot restrict a scan.
		{`SELECT * FROM memories WHERE system_id = 'a' OR day = '2026-11-01'`, `[{memories []}]`},
		// A qualifier naming another relation does not restrict this one.
		{`SELECT * FROM memories WHERE x.system_id = 'a'`, `[{memories []}]`},
		// Joins are read in full; subqueries are scans of their own.
		{`SELECT * FROM memories m JOIN entities e ON m.system_id = e.system_id WHERE m.system_id = 'a'`,
			`[{entities []} {memories []}]`},
		{`SELECT (SELECT count(*) FROM entities WHERE system_id = 'b') FROM memories WHERE day = '2026-11-01'`,
			`[{entities [{system_id = [b]}]} {memories [{day = [2026-11-01]}]}]`},
		{`SELECT 42`, `[]`},
	}
	for _, c := range cases {
		scans, err := e.Analyze(context.Background(), c.sql)
		if err != nil {
			t.Errorf("%s: %v", c.sql, err)
			continue
		}
		sortScans(scans)
		if got := fmt.Sprint(scans); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.sql, got, c.want)
		}
	}
	if _, err := e.Analyze(context.Background(), `COPY memories TO '/tmp/x'`); err == nil {
		t.Error("Analyze accepted a COPY")
	}
}

func sortScans(s []Scan) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].View < s[j-1].View; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
