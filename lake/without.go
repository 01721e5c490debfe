package lake

import (
	"context"
	"fmt"

	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// WithoutRows stages a copy of data file a without the rows whose numbers
// (0-based, in file order) drop holds: a copy-on-write delete. The copy is
// in a's partition, with a's encoding and the tier's layout otherwise; it
// is not committed (the caller commits its add with a's remove, or
// discards it). It returns nil when no row is left.
func (t *Table) WithoutRows(ctx context.Context, a delta.Add, drop map[int64]bool, layouts map[string]Layout) (*DataFile, error) {
	part, err := PartitionOf(a.PartitionValues)
	if err != nil {
		return nil, fmt.Errorf("file %s: %w", a.Path, err)
	}
	layout := layouts[part.Tier].For(t.Name)
	layout.Encoding = EncodingOf(a)
	switch t.Name {
	case schemas.TableMemories:
		return withoutRows(ctx, t, a, part, layout, drop, memoryRows)
	case schemas.TableEntities:
		return withoutRows(ctx, t, a, part, layout, drop, entityRows)
	case schemas.TableRelations:
		return withoutRows(ctx, t, a, part, layout, drop, relationRows)
	}
	return nil, fmt.Errorf("no row type for table %q", t.Name)
}

func withoutRows[R any](ctx context.Context, t *Table, a delta.Add, part Partition, layout Layout, drop map[int64]bool, k rowKind[R]) (*DataFile, error) {
	store := t.Log.Store()
	key, err := t.Log.DataKey(a.Path)
	if err != nil {
		return nil, err
	}
	b, err := storage.ReadAll(ctx, store, key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	var kept []R
	var n int64
	err = k.read(b, layout.Encoding, func(batch []R) {
		for i := range batch {
			if !drop[n] {
				kept = append(kept, batch[i])
			}
			n++
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if len(kept) == 0 {
		return nil, nil
	}
	f, err := stageRows(ctx, t, part, layout, kept, k)
	if err != nil {
		return nil, err
	}
	return &f, nil
}
