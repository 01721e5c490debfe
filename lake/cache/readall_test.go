package cache_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake/cache"
	"github.com/akosha/akosha/lake/storage"
)

// ReadAll of a missing object answers from the store, then keeps the object
// in the cache behind the caller's back: the next ReadAll (or Path) is a hit
// that reads the file and asks the store nothing.
func TestReadAllMissThenHit(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		cs := counting(s)
		k := key("a", "index")
		want := putObj(t, s, k, 5000)
		dir := t.TempDir()
		c := openCache(t, dir, 1<<20, cs)

		got, err := c.ReadAll(testCtx(t), k, 5000)
		if err != nil {
			t.Fatalf("ReadAll: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Fatal("ReadAll returned other bytes than the object's")
		}
		testenv.WaitFor(t, "the write-back", 30*time.Second, func() bool { return c.Stats().Objects == 1 })
		if !bytes.Equal(fileContent(t, cachedFile(dir, k)), want) {
			t.Error("the cached file differs from the object")
		}
		st := c.Stats()
		if st.Misses != 1 || st.Downloads != 1 || st.FetchedBytes != 5000 || st.Bytes != 5000 || st.Pinned != 0 {
			t.Errorf("after a miss: %+v", st)
		}
		for _, size := range []int64{5000, -1} {
			again, err := c.ReadAll(testCtx(t), k, size)
			if err != nil || !bytes.Equal(again, want) {
				t.Fatalf("ReadAll hit (size %d): %v", size, err)
			}
		}
		getReleased(t, c, k, 5000)
		if st := c.Stats(); st.Hits != 3 || cs.totalGets() != 1 || st.Pinned != 0 {
			t.Errorf("after hits: %+v, store gets %d", st, cs.totalGets())
		}
		if left := tmpEntries(t, dir); len(left) != 0 {
			t.Errorf("temporary files left: %v", left)
		}
	})
}

// A size that disagrees with the object, or a missing object, is an error
// and caches nothing.
func TestReadAllErrors(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		k := key("a", "twelve")
		putObj(t, s, k, 12)
		dir := t.TempDir()
		c := openCache(t, dir, 1<<20, s)
		for _, size := range []int64{10, 14, 0} {
			if _, err := c.ReadAll(testCtx(t), k, size); !errors.Is(err, cache.ErrSizeMismatch) {
				t.Errorf("size %d of a 12-byte object: err = %v, want ErrSizeMismatch", size, err)
			}
		}
		if _, err := c.ReadAll(testCtx(t), key("a", "nope"), 10); !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("missing object: err = %v, want ErrNotExist", err)
		}
		if _, err := c.ReadAll(testCtx(t), "../escape", 10); err == nil {
			t.Error("a key escaping the cache was accepted")
		}
		c.Close()
		if st := c.Stats(); st.Objects != 0 || st.Bytes != 0 {
			t.Errorf("after failed reads: %+v", st)
		}
		if left := tmpEntries(t, dir); len(left) != 0 {
			t.Errorf("temporary files left: %v", left)
		}
		if _, err := c.ReadAll(testCtx(t), k, 12); !errors.Is(err, cache.ErrClosed) {
			t.Errorf("ReadAll after Close: err = %v, want ErrClosed", err)
		}
	})
}

// Close waits for the write-backs in flight, and a new cache over the
// directory finds every object whole.
func TestReadAllCloseWaitsForWriteBack(t *testing.T) {
	s := testenv.Local(t)
	dir := t.TempDir()
	c := openCache(t, dir, 1<<30, s)
	var keys []string
	for i := range 20 {
		k := key("a", string(rune('a'+i)))
		putObj(t, s, k, 100_000)
		if _, err := c.ReadAll(testCtx(t), k, 100_000); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	c.Close()
	if left := tmpEntries(t, dir); len(left) != 0 {
		t.Errorf("temporary files left after Close: %v", left)
	}
	c2 := openCache(t, dir, 1<<30, s)
	for _, k := range keys {
		if !bytes.Equal(fileContent(t, cachedFile(dir, k)), body(k, 100_000)) {
			t.Errorf("%s: the placed file differs from the object", k)
		}
	}
	if st := c2.Stats(); st.Objects != len(keys) {
		t.Errorf("reopened cache holds %d objects, want %d", st.Objects, len(keys))
	}
}

// Prefetch downloads in the background once: a second Prefetch, or one of an
// object already held, starts nothing, and the next Path is a hit.
func TestPrefetch(t *testing.T) {
	cs := counting(testenv.Local(t))
	k := key("a", "data")
	want := putObj(t, cs, k, 3000)
	dir := t.TempDir()
	c := openCache(t, dir, 1<<20, cs)

	c.Prefetch(k, 3000)
	c.Prefetch(k, 3000)
	c.Prefetch("../bad", 10) // refused quietly
	testenv.WaitFor(t, "the prefetch", 30*time.Second, func() bool { return c.Has(k) })
	c.Prefetch(k, 3000)
	if p := getReleased(t, c, k, 3000); !bytes.Equal(fileContent(t, p), want) {
		t.Error("prefetched file differs from the object")
	}
	if st := c.Stats(); st.Downloads != 1 || st.Hits != 1 || st.Pinned != 0 || cs.totalGets() != 1 {
		t.Errorf("after a prefetch and a hit: %+v, store gets %d", st, cs.totalGets())
	}
}
