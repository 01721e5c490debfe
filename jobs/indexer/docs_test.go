package indexer

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/fulltext"
	"github.com/akosha/akosha/lake/vecindex"
	"github.com/akosha/akosha/schemas"
)

// readDocs gives every row's content and tags, row for row, across row
// groups, for hot and quantized files, with null, empty and several tags;
// buildText numbers a segment's docs as the nodes and refuses a node that
// names a row not read.
func TestReadDocsAndBuildText(t *testing.T) {
	recs := gen.Memories(3, 250, 1, 1)
	rows := make([]schemas.MemoryRow, len(recs))
	for i := range recs {
		rows[i] = recs[i].Row()
		rows[i].IngestedAt = time.Date(2026, 11, 26, 8, 0, 0, i, time.UTC)
		switch i % 4 {
		case 0:
			rows[i].Tags = nil
		case 1:
			rows[i].Tags = []string{}
		case 2:
			rows[i].Tags = []string{"alpha", "beta gamma"}
		}
	}
	quantized := make([]schemas.QuantizedMemoryRow, len(rows))
	for i := range rows {
		quantized[i] = rows[i].Quantized()
	}
	for name, file := range map[string][]byte{"hot": encode(t, rows), "quantized": encode(t, quantized)} {
		docs, err := readDocs(bytes.NewReader(file), int64(len(file)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(docs) != len(rows) {
			t.Fatalf("%s: %d docs for %d rows", name, len(docs), len(rows))
		}
		for i, d := range docs {
			if d.Content != rows[i].Content || !slices.Equal(d.Tags, rows[i].Tags) && len(d.Tags)+len(rows[i].Tags) > 0 {
				t.Fatalf("%s: row %d: %+v, want %q %q", name, i, d, rows[i].Content, rows[i].Tags)
			}
		}
	}
	docs, err := readDocs(bytes.NewReader(encode(t, rows)), int64(len(encode(t, rows))))
	if err != nil {
		t.Fatal(err)
	}
	// Nodes of two files, out of row order: doc n is node n's row.
	ix := &vecindex.Rows{File: []uint32{1, 0, 1}, Pos: []uint32{2, 7, 0}, ID: []string{"a", "b", "c"}}
	b, err := buildText(ix, [][]fulltext.Doc{docs, {{Content: "zeta"}, {}, {Content: "eta", Tags: []string{"theta"}}}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	seg, err := fulltext.Open(buf.Bytes())
	if err != nil || seg.Docs() != 3 {
		t.Fatalf("segment: %v, %v docs", err, seg)
	}
	for q, want := range map[string]uint32{"theta": 0, "zeta": 2} {
		hits, err := seg.Search(fulltext.ParseQuery(q, fulltext.MatchAll), fulltext.Options{})
		if err != nil || len(hits) != 1 || hits[0].Doc != want {
			t.Fatalf("%q: %v %v, want doc %d", q, hits, err, want)
		}
	}
	ix.Pos[0] = 3
	if _, err := buildText(ix, [][]fulltext.Doc{docs, {{}}}); err == nil {
		t.Fatal("a node beyond the rows read: no error")
	}
}

// encode writes rows as the lake does, in row groups of 100 rows.
func encode[Row any](t testing.TB, rows []Row) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[Row](&buf, append(lake.WriterOptions(), parquet.MaxRowsPerRowGroup(100))...)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
