package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/erasures"
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

// When the erasure log's commit fails after the data commit, the delete
// stands (it cannot be taken back) and its answer says the log is missing
// the record, after a few tries; nothing half-written is left in the log.
func TestDeleteWhoseErasureLogFails(t *testing.T) {
	ctx := testenv.Context(t)
	l, err := lake.Open(ctx, testenv.S3(t))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := auth.New(auth.Config{Disabled: true})
	fn, err := Open(l, a, Config{}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer fn.Stop(ctx)
	recs := []schemas.Memory{{SystemID: "sys-a", ID: "m-1", Content: "c", CreatedAt: time.Now().UTC().Add(-time.Hour)}}
	if _, err := l.AppendMemories(ctx, recs); err != nil {
		t.Fatal(err)
	}
	tries := 0
	appendErasure = func(context.Context, *erasures.Log, erasures.Record) (erasures.Record, error) {
		tries++
		return erasures.Record{}, errors.New("the log's store is down")
	}
	t.Cleanup(func() {
		appendErasure = func(ctx context.Context, l *erasures.Log, rec erasures.Record) (erasures.Record, error) {
			return l.Append(ctx, rec)
		}
	})
	resp, err := fn.Delete(ctx, DeleteFilter{SystemID: "sys-a", IDs: []string{"m-1"}}, false, "tester")
	if err != nil || resp.Deleted != 1 || resp.Erasure != "" || !strings.Contains(resp.Warning, "the log's store is down") {
		t.Fatalf("delete: %+v %v", resp, err)
	}
	if tries != erasureLogTries {
		t.Errorf("%d tries of the log, want %d", tries, erasureLogTries)
	}
	if got := testutil.ToFloat64(fn.metrics.erasureLogFailures); got != 1 {
		t.Errorf("akosha_erasure_log_failures_total %v, want 1", got)
	}
	if rows, _, err := l.Erasures().List(ctx, erasures.Query{}); err != nil || len(rows) != 0 {
		t.Errorf("the log: %v %v", rows, err)
	}
}
