package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/akosha/akosha/functions/ingest"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

func deleteRecs(sys string, n int) []schemas.Memory {
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	recs := make([]schemas.Memory, n)
	for i := range recs {
		recs[i] = schemas.Memory{SystemID: sys, ID: fmt.Sprintf("m%d", i), Content: "c", CreatedAt: base, Project: []string{"keep", "drop"}[i%2]}
	}
	return recs
}

// akosha delete on the lake itself: a dry run counts, the delete removes
// what it counted, and bad flags are usage errors.
func TestDeleteCommandOnALocalLake(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AKOSHA_CACHE_DIR", t.TempDir())
	s, _ := storage.NewLocal(dir)
	l, err := lake.Open(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendMemories(context.Background(), deleteRecs("sys-a", 10)); err != nil {
		t.Fatal(err)
	}
	decode := func(out string) ingest.DeleteResponse {
		t.Helper()
		var r ingest.DeleteResponse
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return r
	}
	out, err := run(t, "delete", "--lake", dir, "--system", "sys-a", "--project", "drop", "--dry-run")
	if r := decode(out); err != nil || r.Deleted != 5 || !r.DryRun {
		t.Fatalf("dry run: %v %s", err, out)
	}
	out, err = run(t, "delete", "--lake", dir, "--system", "sys-a", "--project", "drop")
	if r := decode(out); err != nil || r.Deleted != 5 || r.Erasure == "" {
		t.Fatalf("delete: %v %s", err, out)
	}
	out, err = run(t, "sql", "--lake", dir, "--format", "csv", "SELECT count(*) AS n FROM memories")
	if err != nil || out != "n\n5\n" {
		t.Errorf("after the delete: %v %q", err, out)
	}
	if _, err := run(t, "delete", "--lake", dir, "--system", "sys-a", "--before", "yesterday"); err == nil {
		t.Error("a bad --before was accepted")
	}
	if _, err := run(t, "delete", "--lake", dir, "--system", "sys-a"); err == nil || !strings.Contains(err.Error(), "all_records_of_system") {
		t.Errorf("a whole-system delete without the flag: %v", err)
	}
}

// akosha delete --url calls POST /v1/delete with its credential.
func TestDeleteCommandOverHTTP(t *testing.T) {
	p := startServer(t, (*runtime).bothServer, nil)
	recs, _ := json.Marshal(map[string]any{"records": deleteRecs("sys-h", 4)})
	if st, _, body := p.do(t, "POST", "/v1/memories", recs, map[string][]string{"X-Api-Key": {adminKey}, "Content-Type": {"application/json"}}); st != 200 {
		t.Fatalf("ingest: %d %s", st, body)
	}
	if _, err := run(t, "delete", "--url", p.url, "--token", viewerKey, "--system", "sys-h", "--id", "m1"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("a viewer deleted: %v", err)
	}
	out, err := run(t, "delete", "--url", p.url, "--token", adminKey, "--system", "sys-h", "--id", "m1", "--id", "m2")
	var r ingest.DeleteResponse
	if err != nil || json.Unmarshal([]byte(out), &r) != nil || r.Deleted != 2 || r.Tables["memories"].Version == 0 {
		t.Fatalf("delete over HTTP: %v %s", err, out)
	}
}
