package compact

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

func TestPlanSuperseded(t *testing.T) {
	for _, c := range []struct {
		name  string
		files []FileKeys
		want  map[string]map[int64]bool
	}{
		{"no key twice", []FileKeys{
			{Path: "a", Keys: []string{"s/1", "s/2"}, Ingested: []int64{1, 1}},
			{Path: "b", Keys: []string{"s/3", "t/1"}, Ingested: []int64{2, 2}},
		}, map[string]map[int64]bool{}},
		{"the greatest ingested_at wins, wherever it is", []FileKeys{
			{Path: "tier=cold/x", Keys: []string{"s/1", "s/2"}, Ingested: []int64{9, 1}},
			{Path: "tier=hot/y", Keys: []string{"s/1", "s/2"}, Ingested: []int64{5, 7}},
		}, map[string]map[int64]bool{"tier=hot/y": {0: true}, "tier=cold/x": {1: true}}},
		{"a tie goes to the later path, then the later row", []FileKeys{
			{Path: "a", Keys: []string{"s/1", "s/2", "s/2"}, Ingested: []int64{3, 3, 3}},
			{Path: "b", Keys: []string{"s/1"}, Ingested: []int64{3}},
		}, map[string]map[int64]bool{"a": {0: true, 1: true}}},
		{"a null ingested_at loses to any time", []FileKeys{
			{Path: "a", Keys: []string{"s/1"}, Ingested: []int64{math.MinInt64}},
			{Path: "0", Keys: []string{"s/1"}, Ingested: []int64{-5}},
		}, map[string]map[int64]bool{"a": {0: true}}},
		{"three versions keep one", []FileKeys{
			{Path: "a", Keys: []string{"s/1"}, Ingested: []int64{2}},
			{Path: "b", Keys: []string{"s/1"}, Ingested: []int64{3}},
			{Path: "c", Keys: []string{"s/1"}, Ingested: []int64{1}},
		}, map[string]map[int64]bool{"a": {0: true}, "c": {0: true}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := PlanSuperseded(c.files); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

// A record re-sent with a created_at on another day lands in another
// partition. After a compaction run the table itself is latest-wins: the
// live files name one row per record, its latest content, so an engine
// that reads only the log sees what Akosha answers.
func TestCompactionRemovesVersionsAcrossPartitions(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		ctx := context.Background()
		l := openLake(t, s)
		recs := gen.Memories(21, 90, 3, 3)
		ingestBatches(t, l, recs, 30)
		// A third re-sent a day later (another partition), a few of them
		// twice; the last send wins.
		latest := map[string]string{}
		for _, m := range recs {
			latest[m.SystemID+"/"+m.ID] = m.Content
		}
		for round := range 2 {
			var again []schemas.Memory
			for i := 0; i < len(recs); i += 3 + 3*round {
				m := recs[i]
				m.CreatedAt = m.CreatedAt.Add(24*time.Hour + time.Duration(round)*time.Hour)
				m.Content = fmt.Sprintf("v%d %s", round+2, m.ID)
				latest[m.SystemID+"/"+m.ID] = m.Content
				again = append(again, m)
			}
			ingestBatches(t, l, again, 30)
		}
		before, _ := liveMemories(t, l)
		doubled := 0
		for _, rows := range before {
			if len(rows) > 1 {
				doubled++
			}
		}
		if doubled != 30 {
			t.Fatalf("%d records with more than one row before compaction, want 30", doubled)
		}

		sum, err := Run(ctx, l, Options{})
		if err != nil {
			t.Fatal(err)
		}
		// 135 rows for 90 records: 45 go. Versions that met in one
		// partition were collapsed by its merge; the 30 originals a day
		// earlier (at least) by the dedupe pass, in one commit.
		ts := sum.Tables[schemas.TableMemories]
		d := ts.Dedupe
		if d.Superseded < 30 || ts.RowsIn-ts.RowsOut+d.Superseded != 45 || d.Skipped || d.Version == 0 {
			t.Fatalf("merges collapsed %d, dedupe %+v: want 45 rows removed in all, 30 or more by the dedupe",
				ts.RowsIn-ts.RowsOut, d)
		}
		after, snap := liveMemories(t, l)
		if len(after) != len(recs) {
			t.Fatalf("%d records live, want %d", len(after), len(recs))
		}
		for key, rows := range after {
			if len(rows) != 1 || rows[0].Content != latest[key] {
				t.Fatalf("%s: %d rows, content %q, want one with %q", key, len(rows), rows[0].Content, latest[key])
			}
		}
		// The commit is a copy-on-write delete: every action a data change.
		tb, _ := l.Table(schemas.TableMemories)
		acts, err := tb.Log.ReadCommit(ctx, d.Version)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range acts {
			switch {
			case a.Add != nil && !a.Add.DataChange, a.Remove != nil && !a.Remove.DataChange:
				t.Fatalf("dedupe commit with dataChange=false: %+v %+v", a.Add, a.Remove)
			case a.CommitInfo != nil && a.CommitInfo["operation"] != "AKOSHA DEDUPE":
				t.Fatalf("operation %v", a.CommitInfo["operation"])
			}
		}
		// Nothing left to do: a second run changes nothing.
		again, err := Run(ctx, l, Options{})
		if err != nil || again.Tables[schemas.TableMemories].Dedupe.Superseded != 0 {
			t.Fatalf("second run: %+v %v", again.Tables[schemas.TableMemories].Dedupe, err)
		}
		if v, _ := tb.Refresh(ctx); v.Version != snap.Version {
			t.Fatalf("second run committed: version %d -> %d", snap.Version, v.Version)
		}
	})
}

// Expiry (issue 16): a record whose latest version expired loses every
// version; an older expired version under a newer unexpired one is only
// superseded; a record expiring later stays.
func TestPlanForgotten(t *testing.T) {
	files := []FileKeys{
		{Path: "a", Keys: []string{"s/old", "s/gone", "s/keep", "s/later"}, Ingested: []int64{1, 1, 1, 1}},
		{Path: "b", Keys: []string{"s/old", "s/gone", "s/back"}, Ingested: []int64{2, 2, 2}, Expires: []int64{0, 100, 50}},
		{Path: "c", Keys: []string{"s/back", "s/later"}, Ingested: []int64{3, 3}, Expires: []int64{0, 200}},
	}
	for _, tt := range []struct {
		now     int64
		drop    string
		expired int64
	}{
		{99, "a:0 a:1 a:3 b:2", 0},
		{100, "a:0 a:1 a:3 b:1 b:2", 1},
		{200, "a:0 a:1 a:3 b:1 b:2 c:1", 2},
	} {
		drop, expired := PlanForgotten(files, tt.now)
		var got []string
		for _, f := range files {
			for r := range int64(len(f.Keys)) {
				if drop[f.Path][r] {
					got = append(got, fmt.Sprintf("%s:%d", f.Path, r))
				}
			}
		}
		if strings.Join(got, " ") != tt.drop || expired != tt.expired {
			t.Errorf("now %d: drop %v, expired %d; want %s, %d", tt.now, got, expired, tt.drop, tt.expired)
		}
	}
}
