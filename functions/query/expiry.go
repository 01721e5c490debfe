package query

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/schemas"
)

// Expiry (issue 16) and the result caches. Answers are cached by snapshot
// version, but a record with an expiry leaves the answers at its expiry,
// with no new version. So a cache key also names how many of the
// snapshot's expiring rows have expired by now: for one snapshot that
// count only grows, and it grows exactly when some row's expiry passes, so
// (versions, count) decides what the views show. Counting needs no read
// for a file whose expiries all lie before now or all after (its
// statistics bound them); only a file whose bounds straddle now has its
// expires_at column read (ranged reads, one int64 column), once: files are
// immutable.
type expiryIndex struct {
	lake *lake.Lake

	mu     sync.Mutex
	memo   expiryMemo         // the expiring files of the last snapshot seen
	values map[string][]int64 // path -> sorted expiries (Unix µs) of its rows
}

type expiryMemo struct {
	version int64
	id      string
	files   []expiringFile
}

type expiringFile struct {
	add delta.Add
	e   lake.Expiry
}

func newExpiryIndex(l *lake.Lake) *expiryIndex {
	return &expiryIndex{lake: l, values: map[string][]int64{}}
}

// epoch is the part of a result cache key that expiry adds: "" when snap
// holds no expiring row, else "~" and the number of rows expired at now.
func (x *expiryIndex) epoch(ctx context.Context, snap *delta.Snapshot, now time.Time) (string, error) {
	files := x.expiring(snap)
	if len(files) == 0 {
		return "", nil
	}
	var n int64
	for _, ef := range files {
		switch {
		case ef.e.Min.After(now):
		case !ef.e.Max.After(now):
			n += ef.e.Rows
		default:
			vals, err := x.load(ctx, ef.add)
			if err != nil {
				return "", err
			}
			n += int64(countAtMost(vals, now.UnixMicro()))
		}
	}
	return fmt.Sprintf("~%d", n), nil
}

// countAtMost counts the values of sorted vals at or below v.
func countAtMost(vals []int64, v int64) int {
	i, _ := slices.BinarySearch(vals, v+1)
	return i
}

// expiring lists snap's files holding rows with an expiry, memoized per
// snapshot (parsing every add's statistics on every statement would cost
// more than the statement at thousands of files).
func (x *expiryIndex) expiring(snap *delta.Snapshot) []expiringFile {
	x.mu.Lock()
	if x.memo.version == snap.Version && x.memo.id == snap.Metadata.ID && x.memo.files != nil {
		defer x.mu.Unlock()
		return x.memo.files
	}
	x.mu.Unlock()
	files := []expiringFile{}
	live := map[string]bool{}
	for a := range snap.AllFiles() {
		if e := lake.ExpiryOf(a); e.Rows > 0 {
			files = append(files, expiringFile{a, e})
			live[a.Path] = true
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if snap.Version >= x.memo.version {
		x.memo = expiryMemo{version: snap.Version, id: snap.Metadata.ID, files: files}
		for p := range x.values {
			if !live[p] {
				delete(x.values, p)
			}
		}
	}
	return files
}

// load reads the expiries of a's rows.
func (x *expiryIndex) load(ctx context.Context, a delta.Add) ([]int64, error) {
	x.mu.Lock()
	vals, ok := x.values[a.Path]
	x.mu.Unlock()
	if ok {
		return vals, nil
	}
	t, err := x.lake.Table(schemas.TableMemories)
	if err != nil {
		return nil, err
	}
	vals = []int64{}
	_, _, err = t.ReadColumns(ctx, a, []string{"expires_at"}, func(_ int, v parquet.Value) {
		if !v.IsNull() {
			vals = append(vals, v.Int64())
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read the expiries of %s: %w", a.Path, err)
	}
	slices.Sort(vals)
	x.mu.Lock()
	x.values[a.Path] = vals
	x.mu.Unlock()
	return vals, nil
}
