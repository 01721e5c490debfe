package storage_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake/storage"
)

// getCounter counts the GETs that reach the store.
type getCounter struct {
	storage.Store
	gets atomic.Int64
}

func (g *getCounter) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	g.gets.Add(1)
	return g.Store.Get(ctx, key, off, n)
}

// A RangeReader reads the same bytes as the object holds, wherever a read
// falls; reads inside its two ends cost no request, others one each.
func TestRangeReaderServesEndsFromMemory(t *testing.T) {
	ctx := context.Background()
	store := &getCounter{Store: testenv.S3(t)}
	for _, size := range []int{1, 1000, storage.RangeEnds, storage.RangeEnds + 1, 2*storage.RangeEnds - 1, 2 * storage.RangeEnds, 3*storage.RangeEnds + 17} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rand.IntN(256))
		}
		key := "ranged/" + testenv.RandomID()
		if err := store.Put(ctx, key, bytes.NewReader(data), int64(size)); err != nil {
			t.Fatal(err)
		}
		store.gets.Store(0)
		r, err := storage.NewRangeReader(ctx, store, key, int64(size))
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if ends := store.gets.Load(); ends != 1 && ends != 2 || size <= storage.RangeEnds && ends != 1 {
			t.Errorf("size %d: %d GETs for the ends", size, ends)
		}
		reads := [][2]int{{0, 4}, {size - 8, 8}, {size - min(size, 1755), min(size, 1755)}, {0, size}, {size / 2, min(size-size/2, 3000)}}
		for _, rd := range reads {
			off, n := rd[0], rd[1]
			if off < 0 || n <= 0 || off+n > size {
				continue
			}
			before := store.gets.Load()
			p := make([]byte, n)
			got, err := r.ReadAt(p, int64(off))
			if err != nil || got != n || !bytes.Equal(p, data[off:off+n]) {
				t.Fatalf("size %d: read %d at %d: %d bytes, %v", size, n, off, got, err)
			}
			head, tailOff, hasTail := r.Ends()
			inEnds := off+n <= head || hasTail && int64(off) >= tailOff
			if cost := store.gets.Load() - before; inEnds && cost != 0 || !inEnds && cost != 1 {
				t.Errorf("size %d: read %d at %d cost %d GETs (in the ends: %v)", size, n, off, cost, inEnds)
			}
		}
		// The Parquet opening reads of a large file are all in the ends.
		if head, _, _ := r.Ends(); size > 2*storage.RangeEnds && head != storage.RangeEnds {
			t.Errorf("size %d: head of %d bytes", size, head)
		}
	}
	if _, err := storage.NewRangeReader(ctx, store, "ranged/missing", 100); err == nil {
		t.Error("a missing object read")
	}
}
