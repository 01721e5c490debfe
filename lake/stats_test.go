package lake

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/akosha/akosha/schemas"
)

// A data file's add names the min, max and null count of its id, kind and
// project (and created_at to the millisecond, cut down), so an engine that
// reads only the log skips files by them.
func TestAddStatsNameStringColumns(t *testing.T) {
	p := func(s string) *string { return &s }
	long := strings.Repeat("é", 40) // 80 bytes
	rows := []schemas.MemoryRow{
		{ID: "m2", Kind: "reflection", Project: p("akosha")},
		{ID: "m10", Kind: "conversation"},
		{ID: long, Kind: "memory", Project: p("zeta")},
	}
	created := time.Date(2026, 11, 25, 10, 0, 0, 987654321, time.UTC)
	f := DataFile{Key: "memories/tier=hot/system_id=s/day=2026-11-25/x.parquet", Rows: 3,
		MinCreated: created.Add(-time.Hour), MaxCreated: created, Strings: stringStatsOf(rows)}
	var st struct {
		NumRecords int64
		MinValues  map[string]string
		MaxValues  map[string]string
		NullCount  map[string]int64
	}
	if err := json.Unmarshal([]byte(f.Add(schemas.TableMemories, true).Stats), &st); err != nil {
		t.Fatal(err)
	}
	wantMin := map[string]string{"id": "m10", "kind": "conversation", "project": "akosha", "created_at": "2026-11-25T09:00:00.987Z"}
	wantMax := map[string]string{"kind": "reflection", "project": "zeta", "created_at": "2026-11-25T10:00:00.987Z"}
	for col, v := range wantMin {
		if st.MinValues[col] != v {
			t.Errorf("min %s: %q, want %q", col, st.MinValues[col], v)
		}
	}
	for col, v := range wantMax {
		if st.MaxValues[col] != v {
			t.Errorf("max %s: %q, want %q", col, st.MaxValues[col], v)
		}
	}
	// The greatest id is 80 bytes: a cut max would be below it, so none.
	if v, ok := st.MaxValues["id"]; ok {
		t.Errorf("max id %q recorded for a value longer than %d bytes", v, statPrefix)
	}
	if st.NullCount["project"] != 1 || st.NullCount["id"] != 0 || st.NullCount["kind"] != 0 {
		t.Errorf("null counts %v", st.NullCount)
	}
	// A long min is cut on a rune boundary.
	only := stringStatsOf(rows[2:])
	if got := only.Min["id"]; got != strings.Repeat("é", 16) {
		t.Errorf("cut min %q", got)
	}
}
