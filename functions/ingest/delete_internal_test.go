package ingest

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/schemas"
)

// A delete that loses its commit race with a compaction (which removed the
// file the delete rewrote) is planned again on the new snapshot and lands:
// the record is gone, the compaction's work and every other row are kept.
func TestDeleteRetriesAfterLosingToCompaction(t *testing.T) {
	ctx := testenv.Context(t)
	l, err := lake.Open(ctx, testenv.S3(t))
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	for batch := range 2 { // two files in one partition: something to compact
		recs := make([]schemas.Memory, 5)
		for i := range recs {
			recs[i] = schemas.Memory{SystemID: "sys-a", ID: fmt.Sprintf("m-%d-%d", batch, i), Content: "c", CreatedAt: base}
		}
		if _, err := l.AppendMemories(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	tbl, _ := l.Table(schemas.TableMemories)
	compacted := false
	beforeDeleteCommit = func(attempt int) {
		if attempt != 1 {
			return
		}
		// A compaction commits first: both files into one, dataChange=false.
		snap := tbl.Cached()
		files := snap.Files()
		part, err := lake.PartitionOf(files[0].PartitionValues)
		if err != nil {
			t.Error(err)
			return
		}
		rw, err := tbl.Rewrite(ctx, files, part, lake.DefaultLayouts()[part.Tier], 1<<30)
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := tbl.Replace(ctx, files, rw.Files, false, map[string]any{"operation": "OPTIMIZE"}, slog.Default()); err != nil {
			t.Error(err)
			return
		}
		compacted = true
	}
	t.Cleanup(func() { beforeDeleteCommit = nil })

	res, err := deleteFromTable(ctx, tbl, DeleteFilter{SystemID: "sys-a", IDs: []string{"m-1-3"}}, false, lake.Retry{Attempts: 3, Base: time.Millisecond}, slog.Default())
	if err != nil || !compacted {
		t.Fatalf("delete: %+v %v (compacted %v)", res, err, compacted)
	}
	if res.Deleted != 1 || res.Attempts != 2 || res.Version == 0 {
		t.Fatalf("delete after a lost race: %+v, want 1 record in 2 attempts", res)
	}
	snap, _ := tbl.Refresh(ctx)
	if len(snap.Files()) != 1 {
		t.Errorf("%d live files, want the compacted file rewritten into 1", len(snap.Files()))
	}
	p, err := planTableDelete(ctx, tbl, DeleteFilter{SystemID: "sys-a", AllRecordsOfSystem: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.records) != 9 || p.records["m-1-3"] {
		t.Errorf("left %d records (%v), want the 9 others", len(p.records), p.records)
	}
}
