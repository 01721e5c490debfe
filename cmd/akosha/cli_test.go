package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
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
	first := gen.Memories(1, 50, 2, 1)
	if _, err := l.AppendMemories(context.Background(), first); err != nil {
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
	// Time travel: a second commit, then the count as of the first.
	if _, err := l.AppendMemories(context.Background(), gen.Memories(2, 10, 2, 1)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ asOf, want string }{{"1", "n\n50\n"}, {"2", "n\n60\n"}, {"", "n\n60\n"}} {
		out, err = run(t, "sql", "--lake", dir, "--format", "csv", "--as-of", tc.asOf, "SELECT count(*) AS n FROM memories")
		if err != nil || out != tc.want {
			t.Errorf("sql --as-of %q: %v %q, want %q", tc.asOf, err, out, tc.want)
		}
	}
	if _, err := run(t, "sql", "--lake", dir, "--as-of", "9", "SELECT 1"); err == nil || !strings.Contains(err.Error(), "version_not_found") {
		t.Errorf("sql --as-of after the latest: %v", err)
	}
	vec, _ := json.Marshal(first[0].Embedding)
	vecFile := filepath.Join(t.TempDir(), "q.json")
	if err := os.WriteFile(vecFile, vec, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "search", "--lake", dir, "--as-of", "1", "--k", "1", "--format", "json", "--vector-file", vecFile)
	if err != nil || !strings.Contains(out, `"id": "`+first[0].ID+`"`) || !strings.Contains(out, `"version": 1`) {
		t.Errorf("search --as-of 1: %v\n%s", err, out)
	}
	if _, err := run(t, "search", "--lake", dir, "--as-of", "last week", "--vector-file", vecFile); err == nil || !strings.Contains(err.Error(), "invalid_as_of") {
		t.Errorf("search --as-of 'last week': %v", err)
	}
	if _, err := run(t, "sql", "--lake", dir, "COPY memories TO '/tmp/x'"); err == nil {
		t.Error("sql accepted a COPY")
	}
	out, err = run(t, "lake", "verify", "--lake", dir)
	if err != nil || !strings.Contains(out, "memories: version 2, 2 live files checked") {
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
