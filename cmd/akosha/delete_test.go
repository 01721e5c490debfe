package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/akosha/akosha/functions/ingest"
	"github.com/akosha/akosha/functions/query"
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
	// The erasure log shows the delete (not the dry run), as the local user.
	out, err = run(t, "erasures", "--lake", dir, "--json")
	var log query.ErasuresResponse
	if err != nil || json.Unmarshal([]byte(out), &log) != nil || len(log.Erasures) != 1 ||
		!strings.HasPrefix(log.Erasures[0].Who, "cli:") || log.Erasures[0].Deleted != 5 || log.Erasures[0].SystemID != "sys-a" {
		t.Fatalf("erasures: %v %s", err, out)
	}
	if out, err = run(t, "erasures", "--lake", dir); err != nil || !strings.Contains(out, "WHEN") || !strings.Contains(out, `"project":"drop"`) {
		t.Errorf("erasures as a table: %v %s", err, out)
	}
	for _, bad := range [][]string{{"--since", "yesterday"}, {"--limit", "0"}, {"--until", "2026-01-01T00:00:00Z", "--since", "2026-02-01T00:00:00Z"}} {
		if _, err := run(t, append([]string{"erasures", "--lake", dir}, bad...)...); err == nil {
			t.Errorf("erasures %v was accepted", bad)
		}
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
	// akosha erasures --url: GET /v1/erasures with the credential.
	if _, err := run(t, "erasures", "--url", p.url, "--token", viewerKey); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("a viewer read the erasure log: %v", err)
	}
	out, err = run(t, "erasures", "--url", p.url, "--token", adminKey, "--json")
	var log query.ErasuresResponse
	if err != nil || json.Unmarshal([]byte(out), &log) != nil || len(log.Erasures) != 1 || log.Erasures[0].Deleted != 2 {
		t.Fatalf("erasures over HTTP: %v %s", err, out)
	}
}
