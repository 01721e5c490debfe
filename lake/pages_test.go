package lake_test

import (
	"bytes"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/schemas"
)

// pageTypes reads the header of every page of every column chunk of a
// Parquet file and counts them by type.
func pageTypes(t *testing.T, b []byte) map[format.PageType]int {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[format.PageType]int{}
	for _, rg := range f.Metadata().RowGroups {
		for _, cc := range rg.Columns {
			md := cc.MetaData
			off := md.DataPageOffset
			if md.DictionaryPageOffset > 0 && md.DictionaryPageOffset < off {
				off = md.DictionaryPageOffset
			}
			end := off + md.TotalCompressedSize
			for off < end {
				r := (&thrift.CompactProtocol{}).NewReaderFromBytes(b[off:end])
				var h format.PageHeader
				if err := thrift.NewDecoder(r).Decode(&h); err != nil {
					t.Fatalf("page header at %d: %v", off, err)
				}
				out[h.Type]++
				off += int64(r.BytesRead()) + int64(h.CompressedPageSize)
			}
		}
	}
	return out
}

// Data files are written with data pages v1, as the Delta protocol asks of
// writers for other engines' sake.
func TestDataFilesUseDataPagesV1(t *testing.T) {
	rows := make([]schemas.MemoryRow, 0, 3000)
	for _, m := range gen.Memories(3, 3000, 2, 2) {
		rows = append(rows, m.Row())
	}
	var buf bytes.Buffer
	if err := lake.EncodeParquet(&buf, rows); err != nil {
		t.Fatal(err)
	}
	types := pageTypes(t, buf.Bytes())
	if types[format.DataPageV2] != 0 || types[format.DataPage] == 0 {
		t.Fatalf("page types %v: want data pages v1 only", types)
	}
}
