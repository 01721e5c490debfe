package main

import (
	"context"
	"strings"
	"testing"

	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/lake/tenants"
)

// TestTenantMove: akosha tenant move gives a system to another tenant in
// one commit that names who did it; list shows the mapping; bad names are
// usage errors that change nothing.
func TestTenantMove(t *testing.T) {
	dir := t.TempDir()
	s, _ := storage.NewLocal(dir)
	if err := tenants.New(s).Claim(context.Background(), []string{"laptop-c"}, "team-a", "contractor"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "tenant", "move", "--lake", dir, "laptop-c", "team b"); err == nil {
		t.Fatal("a tenant name with a space was accepted")
	}
	out, err := run(t, "tenant", "move", "--lake", dir, "laptop-c", "team-b")
	if err != nil || !strings.Contains(out, `"from": "team-a"`) || !strings.Contains(out, `"to": "team-b"`) {
		t.Fatalf("move: %v\n%s", err, out)
	}
	out, err = run(t, "tenant", "list", "--lake", dir)
	if err != nil || !strings.Contains(out, `"laptop-c": "team-b"`) {
		t.Fatalf("list: %v\n%s", err, out)
	}
	// The move is in the systems table's own log, with who ran it.
	log, err := storage.ReadAll(context.Background(), s, "systems/_delta_log/00000000000000000002.json")
	if err != nil || !strings.Contains(string(log), "AKOSHA TENANT MOVE") || !strings.Contains(string(log), `"by":"cli:`) {
		t.Fatalf("the move's commit: %v\n%s", err, log)
	}
}
