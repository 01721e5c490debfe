package vacuum

import (
	"strings"
	"testing"
	"time"

	"github.com/akosha/akosha/lake/storage"
)

// Only imported uploads' databases go, once the marker is past the grace;
// the manifest and the marker stay, and nothing outside an upload folder
// is touched.
func TestPlanUploads(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	obj := func(key string, at time.Time) storage.ObjectInfo {
		return storage.ObjectInfo{Key: key, Size: 10, ModTime: at}
	}
	objs := []storage.ObjectInfo{
		obj("systems/a/uploads/1/manifest.json", t0),
		obj("systems/a/uploads/1/reflection.duckdb", t0),
		obj("systems/a/uploads/1/knowledge_graph.duckdb", t0),
		obj("systems/a/uploads/1/.akosha-imported", t0),
		obj("systems/a/uploads/2/reflection.duckdb", t0), // pending: no marker
		obj("systems/a/uploads/2/manifest.json", t0),
		obj("systems/b/uploads/3/reflection.duckdb", t0),
		obj("systems/b/uploads/3/.akosha-imported", t0.Add(time.Hour)), // imported within the grace
		obj("systems/b/notes/.akosha-imported", t0),                    // not an upload folder
		obj("systems/b/notes/x.duckdb", t0),
	}
	keys, n := planUploads(objs, t0.Add(30*time.Minute))
	var got []string
	for _, o := range keys {
		got = append(got, o.Key)
	}
	want := "systems/a/uploads/1/reflection.duckdb systems/a/uploads/1/knowledge_graph.duckdb"
	if strings.Join(got, " ") != want || n != 1 {
		t.Fatalf("planned %v (%d uploads), want %s (1)", got, n, want)
	}
}
