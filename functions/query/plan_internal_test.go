package query

import (
	"testing"
	"time"

	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/schemas"
)

// A file's created_at max is recorded cut down to the millisecond, so a
// bound inside that millisecond must not prune it: the file may hold a row
// at .987654 when its max says .987.
func TestPruneReadsAMaxAsItsWholeMillisecond(t *testing.T) {
	max := time.Date(2026, 11, 25, 10, 0, 0, 987654321, time.UTC)
	f := lake.DataFile{Key: "memories/tier=hot/system_id=s/day=2026-11-25/x.parquet", Rows: 1,
		Partition:  lake.Partition{Tier: "hot", Day: "2026-11-25"},
		MinCreated: max.Add(-time.Hour), MaxCreated: max}
	add := f.Add(schemas.TableMemories, true)
	for _, c := range []struct {
		from time.Time
		keep bool
	}{
		{max, true},                            // the row itself
		{max.Truncate(time.Millisecond), true}, // the recorded max
		{max.Truncate(time.Millisecond).Add(999 * time.Microsecond), true}, // still within it
		{max.Truncate(time.Millisecond).Add(time.Millisecond), false},      // past it
	} {
		if got := (Prune{CreatedFrom: c.from}).Keep(add); got != c.keep {
			t.Errorf("created_at >= %v: keep %v, want %v", c.from, got, c.keep)
		}
	}
}
