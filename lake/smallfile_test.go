package lake_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/schemas"
)

// A file of a hundred rows (one day of a backfill group commit) has only
// pages below the codec's raw threshold but the content's: DuckDB reads
// every column of it as written.
func TestSmallFileReadableByDuckDB(t *testing.T) {
	recs := gen.Memories(3, 100, 2, 1)
	rows := make([]schemas.MemoryRow, len(recs))
	var contentLen int
	for i := range recs {
		rows[i] = recs[i].Row()
		contentLen += len(rows[i].Content)
	}
	var buf bytes.Buffer
	if err := lake.EncodeParquet(&buf, rows); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "small.parquet")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var n, clen, embs, systems, kinds int
	var e0 float32
	err := duck(t).QueryRow(fmt.Sprintf(`SELECT count(*), sum(length(content)), count(embedding),
		count(DISTINCT system_id), count(DISTINCT kind), sum(embedding[1])::FLOAT
		FROM read_parquet('%s')`, path)).Scan(&n, &clen, &embs, &systems, &kinds, &e0)
	if err != nil {
		t.Fatal(err)
	}
	var want float32
	for _, r := range rows {
		want += r.Embedding[0]
	}
	if n != 100 || clen != contentLen || embs != 100 || systems != 2 || kinds < 1 {
		t.Errorf("duckdb: %d rows, %d content bytes, %d embeddings, %d systems, %d kinds; want 100, %d, 100, 2", n, clen, embs, systems, kinds, contentLen)
	}
	if d := e0 - want; d > 1e-3 || d < -1e-3 {
		t.Errorf("duckdb: sum of embedding[1] %v, want %v", e0, want)
	}
	var id, content string
	if err := duck(t).QueryRow(fmt.Sprintf(`SELECT id, content FROM read_parquet('%s') WHERE id = ?`, path), rows[57].ID).Scan(&id, &content); err != nil {
		t.Fatal(err)
	}
	if content != rows[57].Content {
		t.Errorf("duckdb: row %s content differs", id)
	}
}
