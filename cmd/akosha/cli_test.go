package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/jobmetrics"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/storage"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestCLIOnALocalLake(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AKOSHA_CACHE_DIR", t.TempDir())
	s, _ := storage.NewLocal(dir)
	l, err := lake.Open(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendMemories(context.Background(), gen.Memories(1, 50, 2, 1)); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "sql", "--lake", dir, "SELECT count(*) AS n, count(DISTINCT system_id) AS systems FROM memories")
	if err != nil || !strings.Contains(out, "n   systems") || !strings.Contains(out, "50  2") || !strings.Contains(out, "(1 rows)") {
		t.Errorf("sql table: %v\n%s", err, out)
	}
	out, err = run(t, "sql", "--lake", dir, "--format", "csv", "SELECT count(*) AS n FROM memories")
	if err != nil || out != "n\n50\n" {
		t.Errorf("sql csv: %v %q", err, out)
	}
	if _, err := run(t, "sql", "--lake", dir, "COPY memories TO '/tmp/x'"); err == nil {
		t.Error("sql accepted a COPY")
	}
	out, err = run(t, "lake", "verify", "--lake", dir)
	if err != nil || !strings.Contains(out, "memories: version 1, 1 live files checked") {
		t.Errorf("lake verify: %v\n%s", err, out)
	}
	out, err = run(t, "lake", "log", "--lake", dir)
	if err != nil || !strings.Contains(out, "WRITE") {
		t.Errorf("lake log: %v\n%s", err, out)
	}
	if _, err := run(t, "sql", "SELECT 1"); err == nil {
		t.Error("sql without --lake or --url succeeded")
	}
}

// A job run records itself in the lake, where GET /v1/lake reads it; a dry
// run changes nothing and records nothing.
func TestJobRunsAreRecordedInTheLake(t *testing.T) {
	dir := t.TempDir()
	s, _ := storage.NewLocal(dir)
	l, err := lake.Open(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendMemories(context.Background(), gen.Memories(1, 20, 2, 1)); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "job", "vacuum", "--lake", dir, "--dry-run"); err != nil {
		t.Fatalf("vacuum --dry-run: %v\n%s", err, out)
	}
	if recs, _ := jobmetrics.ReadRecords(context.Background(), s); len(recs) != 0 {
		t.Errorf("a dry run was recorded: %+v", recs)
	}
	if out, err := run(t, "job", "compact", "--lake", dir); err != nil {
		t.Fatalf("compact: %v\n%s", err, out)
	}
	recs, err := jobmetrics.ReadRecords(context.Background(), s)
	if err != nil || len(recs) != 1 || recs[0].Job != "compact" || recs[0].Result != "ok" || recs[0].LastSuccessAt == nil {
		t.Fatalf("records %+v (%v), want compact's successful run", recs, err)
	}
}
