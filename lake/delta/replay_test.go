package delta

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
)

// TestCheckpointReplayMatchesJSON rebuilds every version of every shared
// table from every possible starting point (each complete checkpoint at or
// below it, and version 0 when the JSON log is complete) and requires the
// same state from all of them: the checkpoint reader must agree with the
// JSON reader on Spark, Delta 0.2, delta-rs and Databricks checkpoints.
func TestCheckpointReplayMatchesJSON(t *testing.T) {
	dir := testdataDir(t)
	store := &dirStore{root: dir}
	ctx := context.Background()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	compared := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		tbl := NewTable(store, e.Name())
		l, err := tbl.list(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		for v := int64(0); v <= l.latest; v++ {
			var starts []*checkpointRef
			for _, cp := range l.checkpointsBelow(v) {
				if l.missingCommit(cp.version+1, v) < 0 {
					starts = append(starts, cp)
				}
			}
			if l.missingCommit(0, v) < 0 {
				starts = append(starts, nil)
			}
			if len(starts) < 2 {
				continue
			}
			var first *Snapshot
			for _, cp := range starts {
				s, err := tbl.replay(ctx, cp, v)
				if errors.Is(err, ErrUnsupported) {
					break
				}
				if err != nil {
					t.Errorf("%s@%d from %s: %v", e.Name(), v, startName(cp), err)
					continue
				}
				if first == nil {
					first = s
					continue
				}
				assertSameState(t, fmt.Sprintf("%s@%d from %s vs %s", e.Name(), v, startName(cp), startName(starts[0])), s, first)
				compared++
			}
		}
	}
	if compared < 20 {
		t.Errorf("only %d replays compared; the fixtures should give more", compared)
	}
	t.Logf("%d checkpoint/JSON replay pairs agree", compared)
}

func startName(cp *checkpointRef) string {
	if cp == nil {
		return "version 0"
	}
	return fmt.Sprintf("checkpoint %d", cp.version)
}
