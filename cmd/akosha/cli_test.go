package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/akosha/akosha/internal/gen"
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
