package importer

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/akosha/akosha/internal/testenv"
)

// TestAbsentOptionalStringsStayNull: an upload whose rows lack an optional
// string before and after one that has it stores NULL for each of them, in
// one batch (issue 14 saw NULL, 'v2', ”, ”). One upload per pattern, every
// optional string column following it.
func TestAbsentOptionalStringsStayNull(t *testing.T) {
	ctx := testCtx(t)
	src := testenv.S3(t)
	l := openLake(t, testenv.S3(t))
	cols := []string{"category", "subcategory", "project", "namespace", "session_id", "user_id", "source_type"}
	patterns := []string{"NXN", "NXNN", "XN"}
	for n, pattern := range patterns {
		path := filepath.Join(t.TempDir(), ReflectionDB)
		db := openDuck(t, path)
		var values []string
		for i, p := range pattern {
			v := "NULL"
			if p == 'X' {
				v = fmt.Sprintf("'v%d'", i)
			}
			vals := strings.Repeat(v+", ", len(cols))
			values = append(values, fmt.Sprintf("('%s-%d', 'c', %s TIMESTAMP '2026-06-01 10:00:00')", pattern, i, vals))
		}
		execAll(t, db, []string{
			`CREATE TABLE conversations_v2 (id TEXT, content TEXT, ` + strings.Join(cols, " TEXT, ") + ` TEXT, timestamp TIMESTAMP)`,
			`INSERT INTO conversations_v2 VALUES ` + strings.Join(values, ", "),
		})
		closeDuck(t, db)
		up := upload{sid: "nulls", uid: fmt.Sprintf("20260601_10000%d_nulls", n), files: map[string][]byte{ReflectionDB: gzipBytes(t, readFile(t, path))}}
		up.put(t, src)
	}
	if _, err := Run(ctx, src, l, quiet(Options{})); err != nil {
		t.Fatalf("run: %v", err)
	}
	db := lakeDuck(t, l, "memories")
	for _, pattern := range patterns {
		for i, p := range pattern {
			for _, col := range cols {
				var isNull bool
				var v string
				id := fmt.Sprintf("%s-%d", pattern, i)
				if err := db.QueryRow(`SELECT `+col+` IS NULL, coalesce(`+col+`, '') FROM t WHERE id = ?`, id).Scan(&isNull, &v); err != nil {
					t.Fatalf("%s: %v", id, err)
				}
				if (p == 'N') != isNull || (p == 'X' && v != fmt.Sprintf("v%d", i)) {
					t.Errorf("%s %s = %q (null %v), want %c", id, col, v, isNull, p)
				}
			}
		}
	}
}
