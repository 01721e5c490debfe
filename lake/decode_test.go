package lake

import (
	"bytes"
	"testing"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/schemas"
)

// A torn or foreign object is an error from decodeRows, never a panic
// (parquet-go's reader panics on a file it cannot open): a job that reads
// half a file must fail, not crash.
func TestDecodeRowsRefusesTornFiles(t *testing.T) {
	var buf bytes.Buffer
	rows := make([]schemas.MemoryRow, 0, 20)
	for _, m := range gen.Memories(1, 20, 2, 1) {
		rows = append(rows, m.Row())
	}
	if err := EncodeParquet(&buf, rows); err != nil {
		t.Fatal(err)
	}
	whole := buf.Bytes()
	n := 0
	if err := decodeRows(whole, func(b []schemas.MemoryRow) { n += len(b) }); err != nil || n != 20 {
		t.Fatalf("whole file: %d rows, %v", n, err)
	}
	for _, b := range [][]byte{whole[:len(whole)/2], whole[:len(whole)-1], nil, []byte("PAR1 not a parquet file PAR1")} {
		if err := decodeRows(b, func([]schemas.MemoryRow) {}); err == nil {
			t.Errorf("%d bytes of a %d-byte file decoded without error", len(b), len(whole))
		}
	}
}
