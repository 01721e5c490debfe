package lake

import (
	"context"
	"fmt"

	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
)

// ReadColumns reads whole columns of data file a with ranged reads (the
// footer and those columns' chunks, never the content or embeddings), for
// planning a copy-on-write rewrite by key. fn is called with every value of
// column cols[c], in file order, c after c within a row group; a column the
// file lacks is reported as missing and fn never sees it. A file written
// before system_id was a column still answers it from its partition value.
// The values point into the page being read: fn must copy what it keeps.
func (t *Table) ReadColumns(ctx context.Context, a delta.Add, cols []string, fn func(c int, v parquet.Value)) (rows int64, missing []string, err error) {
	key, err := t.Log.DataKey(a.Path)
	if err != nil {
		return 0, nil, err
	}
	rr, err := storage.NewRangeReader(ctx, t.Log.Store(), key, a.Size)
	if err != nil {
		return 0, nil, err
	}
	f, err := parquet.OpenFile(rr, a.Size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true), parquet.ReadBufferSize(256<<10))
	if err != nil {
		return 0, nil, fmt.Errorf("open %s: %w", key, err)
	}
	idx := make([]int, len(cols))
	partValue := make([]*string, len(cols))
	for c, name := range cols {
		leaf, ok := f.Schema().Lookup(name)
		switch {
		case ok:
			idx[c] = leaf.ColumnIndex
		case a.PartitionValues[name] != nil:
			idx[c], partValue[c] = -1, a.PartitionValues[name]
		default:
			idx[c] = -1
			missing = append(missing, name)
		}
	}
	for _, rg := range f.RowGroups() {
		cc := rg.ColumnChunks()
		n := rg.NumRows()
		for c := range cols {
			switch {
			case idx[c] >= 0:
				if err := EachValue(cc[idx[c]], func(v parquet.Value) { fn(c, v) }); err != nil {
					return 0, nil, fmt.Errorf("read %s of %s: %w", cols[c], key, err)
				}
			case partValue[c] != nil:
				v := parquet.ByteArrayValue([]byte(*partValue[c]))
				for range n {
					fn(c, v)
				}
			}
		}
		rows += n
	}
	return rows, missing, nil
}
