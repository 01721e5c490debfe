package gen_test

import (
	"testing"
	"time"

	"github.com/akosha/akosha/internal/gen"
)

func TestFleetShape(t *testing.T) {
	end := time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC)
	f := gen.Fleet{Systems: 10, Days: 30, Records: 3000, Seed: 1, End: end}
	recs := f.Memories()
	if len(recs) != 3000 {
		t.Fatalf("%d records", len(recs))
	}
	perSystem := map[string]int{}
	days := map[string]bool{}
	first := time.Date(2026, 11, 7, 0, 0, 0, 0, time.UTC)
	for _, m := range recs {
		perSystem[m.SystemID]++
		days[m.CreatedAt.Format(time.DateOnly)] = true
		if n := len(m.Content); n < 300 || n > 900 {
			t.Fatalf("content of %d bytes", n)
		}
		if m.CreatedAt.Before(first) || !m.CreatedAt.Before(first.AddDate(0, 0, 30)) {
			t.Fatalf("created_at %v outside the 30 days ending %v", m.CreatedAt, end)
		}
		if len(m.Embedding) != 384 {
			t.Fatalf("embedding of %d", len(m.Embedding))
		}
	}
	if len(perSystem) != 10 || perSystem[gen.FleetSystem(3)] != 300 {
		t.Fatalf("per system: %v", perSystem)
	}
	if len(days) != 30 {
		t.Fatalf("%d days", len(days))
	}
	again := f.Memories()
	if again[42].Content != recs[42].Content || again[42].Embedding[7] != recs[42].Embedding[7] {
		t.Fatal("not deterministic for a seed")
	}
}
