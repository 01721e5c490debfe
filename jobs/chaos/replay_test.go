package chaos

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/jobs/age"
	"github.com/akosha/akosha/jobs/compact"
	"github.com/akosha/akosha/jobs/vacuum"
	"github.com/akosha/akosha/schemas"
)

// TestRawLogReplayAnswersAsAkosha is what another engine sees. A lake gets
// records re-sent on the same day and on another day, a tier move, a
// compaction (merges and the dedupe pass) and a vacuum that also cleans
// the log below a checkpoint. Then DuckDB alone replays the memories log
// (the newest checkpoint's Parquet and the JSON commits after it, read
// with read_parquet and read_json_objects: no Akosha code), reads the
// live files it names, and must give exactly the rows /v1/sql gives.
func TestRawLogReplayAnswersAsAkosha(t *testing.T) {
	ctx := context.Background()
	store := testenv.Local(t)
	l := open(t, store)
	tb, _ := l.Table(schemas.TableMemories)
	tb.Log.CheckpointInterval = 5

	recs := gen.Memories(31, 240, 3, 3) // 2026-11-01..03
	for i := 0; i < len(recs); i += 40 {
		if _, err := l.AppendMemories(ctx, recs[i:i+40]); err != nil {
			t.Fatal(err)
		}
	}
	for round, shift := range []time.Duration{0, 24 * time.Hour, 49 * time.Hour} {
		var again []schemas.Memory
		for i := round; i < len(recs); i += 5 {
			m := recs[i]
			m.CreatedAt = m.CreatedAt.Add(shift)
			m.Content = fmt.Sprintf("v%d %s", round+2, m.ID)
			again = append(again, m)
		}
		if _, err := l.AppendMemories(ctx, again); err != nil {
			t.Fatal(err)
		}
	}
	// The first day goes warm (int8 vectors, another tier), then
	// compaction and a vacuum past every grace and the log retention.
	now := gen.Base.AddDate(0, 0, 9).Add(12 * time.Hour)
	if _, err := age.Run(ctx, l, age.Options{Tables: []string{schemas.TableMemories}, Now: now,
		Policy: age.Policy{WarmAfter: 8, ColdAfter: 90, DeleteAfter: 1000}}); err != nil {
		t.Fatal(err)
	}
	sum, err := compact.Run(ctx, l, compact.Options{Tables: []string{schemas.TableMemories}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Tables[schemas.TableMemories].Dedupe.Superseded == 0 {
		t.Fatal("the dedupe pass removed nothing: the scenario has no version across partitions")
	}
	later := time.Now().Add(40 * 24 * time.Hour)
	vs, err := vacuum.Run(ctx, l, vacuum.Options{Tables: []string{schemas.TableMemories}, Now: func() time.Time { return later }})
	if err != nil {
		t.Fatal(err)
	}
	if vs.Tables[schemas.TableMemories].Deleted[vacuum.KindLog] == 0 {
		t.Fatal("vacuum cleaned no log entry: the replay would not need the checkpoint")
	}

	const cols = "system_id, id, kind, content, project, CAST(created_at AS VARCHAR), tier"
	const order = " ORDER BY system_id, id"
	a, err := auth.New(auth.Config{Disabled: true})
	if err != nil {
		t.Fatal(err)
	}
	q, err := query.Open(open(t, store), a, query.Config{CacheDir: t.TempDir()}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Stop(ctx)
	res, err := q.Query(ctx, "SELECT "+cols+" FROM memories"+order, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var want [][]string
	for _, r := range res.Rows {
		want = append(want, stringRow(r))
	}

	got := rawReplay(t, filepath.Join(store.Root(), schemas.TableMemories), "SELECT "+cols+" FROM live"+order)
	if len(got) != len(recs) || len(want) != len(recs) {
		t.Fatalf("raw replay %d rows, /v1/sql %d, records %d", len(got), len(want), len(recs))
	}
	if !reflect.DeepEqual(got, want) {
		for i := range got {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("row %d: raw replay %v, /v1/sql %v", i, got[i], want[i])
			}
		}
	}
}

// rawReplay replays a Delta table's log with DuckDB alone and answers stmt
// over a view "live" of the live files' rows.
func rawReplay(t *testing.T, tableDir, stmt string) [][]string {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	logDir := filepath.Join(tableDir, "_delta_log")
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

	cp := int64(-1)
	if _, err := os.Stat(filepath.Join(logDir, "_last_checkpoint")); err == nil {
		if err := db.QueryRow("SELECT CAST(json_extract(json, '$.version') AS BIGINT) FROM read_json_objects(" +
			quote(filepath.Join(logDir, "_last_checkpoint")) + ")").Scan(&cp); err != nil {
			t.Fatal(err)
		}
	}
	actions := fmt.Sprintf(`SELECT CAST(regexp_extract(filename, '(\d{20})\.json$', 1) AS BIGINT) AS v,
		json_extract_string(json, '$.add.path') AS add_path, json_extract_string(json, '$.remove.path') AS remove_path
		FROM read_json_objects(%s, format = 'newline_delimited', filename = true)`, quote(filepath.Join(logDir, "*.json")))
	actions = "SELECT * FROM (" + actions + fmt.Sprintf(") WHERE v > %d", cp)
	if cp >= 0 {
		actions += fmt.Sprintf(" UNION ALL SELECT %d, add.path, remove.path FROM read_parquet(%s)",
			cp, quote(filepath.Join(logDir, fmt.Sprintf("%020d.checkpoint.parquet", cp))))
	}
	live := `WITH acts AS (` + actions + `),
		ev AS (SELECT v, add_path AS path, true AS added FROM acts WHERE add_path IS NOT NULL
			UNION ALL SELECT v, remove_path, false FROM acts WHERE remove_path IS NOT NULL)
		SELECT path FROM ev QUALIFY row_number() OVER (PARTITION BY path ORDER BY v DESC, added) = 1 AND added ORDER BY path`
	rows, err := db.Query(live)
	if err != nil {
		t.Fatalf("replay the log: %v", err)
	}
	var files []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			t.Fatal(err)
		}
		files = append(files, quote(filepath.Join(tableDir, p)))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(files) == 0 {
		t.Fatal("the replay found no live file")
	}
	if _, err := db.Exec("CREATE VIEW live AS SELECT * FROM read_parquet([" + strings.Join(files, ", ") +
		"], hive_partitioning = true, union_by_name = true)"); err != nil {
		t.Fatal(err)
	}
	rows, err = db.Query(stmt)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ncol, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		vals := make([]any, len(ncol))
		ptrs := make([]any, len(ncol))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, stringRow(vals))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// stringRow prints a row's values as the comparisons between /v1/sql and
// the raw replay see them: both sides through fmt.Sprint, so the same value
// reads the same whichever driver decoded it.
func stringRow(vals []any) []string {
	row := make([]string, len(vals))
	for i, v := range vals {
		row[i] = fmt.Sprint(v)
	}
	return row
}
