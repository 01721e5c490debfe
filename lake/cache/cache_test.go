package cache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake/cache"
	"github.com/akosha/akosha/lake/storage"
)

// A first request downloads the object to dir/<key>; the next is a hit that
// touches the store no more.
func TestMissThenHit(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		cs := counting(s)
		k := key("a", "x")
		want := putObj(t, s, k, 1000)
		dir := t.TempDir()
		c := openCache(t, dir, 1<<20, cs)

		p, release := get(t, c, k, 1000)
		if p != cachedFile(dir, k) {
			t.Errorf("path %s, want the key mirrored under the cache dir: %s", p, cachedFile(dir, k))
		}
		if got := fileContent(t, p); !bytes.Equal(got, want) {
			t.Errorf("cached file differs from the object")
		}
		st := c.Stats()
		if st.Misses != 1 || st.Hits != 0 || st.Downloads != 1 || st.FetchedBytes != 1000 ||
			st.Bytes != 1000 || st.Objects != 1 || st.Pinned != 1 {
			t.Errorf("after a miss: %+v", st)
		}
		release()
		release() // releasing twice is harmless
		if st := c.Stats(); st.Pinned != 0 {
			t.Errorf("released, still pinned: %+v", st)
		}

		if p2 := getReleased(t, c, k, 1000); p2 != p {
			t.Errorf("hit path %s, want %s", p2, p)
		}
		st = c.Stats()
		if st.Hits != 1 || st.Misses != 1 || st.Downloads != 1 || cs.totalGets() != 1 {
			t.Errorf("after a hit: %+v, store gets %d", st, cs.totalGets())
		}
		if _, _, _, heads := cs.snapshot(); heads != 0 {
			t.Errorf("size was known, yet the cache asked the store %d times", heads)
		}
	})
}

// Without a size from the log the cache asks the store for it first.
func TestUnknownSizeAsksStore(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		cs := counting(s)
		k := key("a", "unknown")
		want := putObj(t, s, k, 321)
		c := openCache(t, t.TempDir(), 1<<20, cs)
		p := getReleased(t, c, k, -1)
		if !bytes.Equal(fileContent(t, p), want) {
			t.Errorf("cached file differs from the object")
		}
		if _, _, _, heads := cs.snapshot(); heads != 1 {
			t.Errorf("heads = %d, want 1", heads)
		}
	})
}

// The download is checked against the size the log records: a wrong size is
// an error and leaves nothing behind, neither the file nor a temporary one.
func TestSizeIsVerified(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		k := key("a", "twelve")
		putObj(t, s, k, 12)
		dir := t.TempDir()
		c := openCache(t, dir, 1<<20, s)

		for _, logSize := range []int64{10, 14, 0} {
			_, _, err := c.Path(testCtx(t), k, logSize)
			if !errors.Is(err, cache.ErrSizeMismatch) {
				t.Errorf("log says %d bytes, object has 12: err = %v, want ErrSizeMismatch", logSize, err)
			}
		}
		if exists(cachedFile(dir, k)) {
			t.Errorf("a file of the wrong size was placed")
		}
		if left := tmpEntries(t, dir); len(left) != 0 {
			t.Errorf("temporary files left: %v", left)
		}
		if st := c.Stats(); st.Objects != 0 || st.Bytes != 0 || st.Pinned != 0 {
			t.Errorf("after failed downloads: %+v", st)
		}

		// Once held, the object still answers only to its true size.
		getReleased(t, c, k, 12)
		if _, _, err := c.Path(testCtx(t), k, 10); !errors.Is(err, cache.ErrSizeMismatch) {
			t.Errorf("cached 12 bytes, asked for 10: err = %v", err)
		}
		if st := c.Stats(); st.Objects != 1 || st.Pinned != 0 {
			t.Errorf("a mismatch must neither drop nor pin the file: %+v", st)
		}
	})
}

func TestMissingObject(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		dir := t.TempDir()
		c := openCache(t, dir, 1<<20, s)
		for _, size := range []int64{10, -1} {
			_, _, err := c.Path(testCtx(t), key("a", "nope"), size)
			if !errors.Is(err, storage.ErrNotExist) {
				t.Errorf("size %d: err = %v, want ErrNotExist", size, err)
			}
		}
		if st := c.Stats(); st.Objects != 0 || st.Pinned != 0 {
			t.Errorf("after a missing object: %+v", st)
		}
		if left := tmpEntries(t, dir); len(left) != 0 {
			t.Errorf("temporary files left: %v", left)
		}
	})
}

// Keys that could escape the directory, or clash with its temporary files,
// are refused before the store is asked.
func TestInvalidKeys(t *testing.T) {
	cs := counting(testenv.Local(t))
	dir := t.TempDir()
	c := openCache(t, dir, 1<<20, cs)
	for _, k := range []string{"", "/etc/passwd", "../escape", "a/../../b", "a//b", "a\\b", ".tmp", ".tmp/x"} {
		if _, _, err := c.Path(testCtx(t), k, 1); err == nil {
			t.Errorf("key %q accepted", k)
		}
		if _, err := c.Fetch(testCtx(t), []cache.Object{{Key: k, Size: 1}}); err == nil {
			t.Errorf("Fetch accepted key %q", k)
		}
	}
	if n := cs.totalGets(); n != 0 {
		t.Errorf("store asked %d times for invalid keys", n)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape")); err == nil {
		t.Errorf("a file escaped the cache directory")
	}
}

// Fetch returns the paths in request order, one pinned lease for all.
func TestFetchInOrder(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		var objs []cache.Object
		var want [][]byte
		for i := range 20 {
			k := key(string(rune('a'+i)), "f")
			want = append(want, putObj(t, s, k, 100+i))
			objs = append(objs, cache.Object{Key: k, Size: int64(100 + i)})
		}
		objs = append(objs, objs[3]) // asking twice for one object is fine
		want = append(want, want[3])
		c := openCache(t, t.TempDir(), 1<<20, s)

		l, err := c.Fetch(testCtx(t), objs)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Paths) != len(objs) {
			t.Fatalf("%d paths for %d objects", len(l.Paths), len(objs))
		}
		for i, p := range l.Paths {
			if !bytes.Equal(fileContent(t, p), want[i]) {
				t.Errorf("path %d holds the wrong object", i)
			}
		}
		if st := c.Stats(); st.Pinned != 20 || st.Objects != 20 {
			t.Errorf("while leased: %+v", st)
		}
		l.Release()
		if st := c.Stats(); st.Pinned != 0 {
			t.Errorf("after release: %+v", st)
		}
	})
}

// A Fetch that fails on one object pins nothing.
func TestFetchFailureReleasesAll(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		putObj(t, s, key("a", "ok"), 10)
		c := openCache(t, t.TempDir(), 1<<20, s)
		_, err := c.Fetch(testCtx(t), []cache.Object{{key("a", "ok"), 10}, {key("a", "missing"), 10}})
		if !errors.Is(err, storage.ErrNotExist) {
			t.Fatalf("err = %v, want ErrNotExist", err)
		}
		if st := c.Stats(); st.Pinned != 0 {
			t.Errorf("a failed Fetch left pins: %+v", st)
		}
	})
}

// Fetch downloads at most 32 objects at once.
func TestFetchBoundsParallelism(t *testing.T) {
	cs := counting(testenv.Local(t))
	var objs []cache.Object
	for i := range 40 {
		k := key("p", fmt.Sprintf("o%02d", i))
		putObj(t, cs, k, 50)
		objs = append(objs, cache.Object{Key: k, Size: 50})
	}
	c := openCache(t, t.TempDir(), 1<<20, cs)
	open := cs.hold()
	defer open()
	done := make(chan error, 1)
	go func() {
		l, err := c.Fetch(testCtx(t), objs)
		if err == nil {
			l.Release()
		}
		done <- err
	}()
	testenv.WaitFor(t, "32 downloads at the gate", 30*time.Second, func() bool { a, _, _, _ := cs.snapshot(); return a == 32 })
	open()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, maxActive, _, _ := cs.snapshot(); maxActive != 32 {
		t.Errorf("at most %d downloads at once, want 32", maxActive)
	}
}

// Close interrupts downloads in flight, waits for them, and refuses new work;
// the files already held stay for the next Open.
func TestCloseStopsDownloads(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		cs := counting(s)
		putObj(t, s, key("a", "held"), 10)
		putObj(t, s, key("a", "slow"), 10)
		dir := t.TempDir()
		c, err := cache.Open(dir, 1<<20, cs, nil)
		if err != nil {
			t.Fatal(err)
		}
		getReleased(t, c, key("a", "held"), 10)

		defer cs.hold()()
		errc := make(chan error, 1)
		go func() {
			_, _, err := c.Path(context.Background(), key("a", "slow"), 10)
			errc <- err
		}()
		testenv.WaitFor(t, "the download to start", 30*time.Second, func() bool { return cs.getsOf(key("a", "slow")) == 1 })
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; !errors.Is(err, cache.ErrClosed) {
			t.Errorf("waiter got %v, want ErrClosed", err)
		}
		if _, _, err := c.Path(testCtx(t), key("a", "held"), 10); !errors.Is(err, cache.ErrClosed) {
			t.Errorf("after Close: %v, want ErrClosed", err)
		}
		if !exists(cachedFile(dir, key("a", "held"))) || exists(cachedFile(dir, key("a", "slow"))) {
			t.Errorf("Close must keep finished files and place no interrupted one")
		}
		if left := tmpEntries(t, dir); len(left) != 0 {
			t.Errorf("temporary files left: %v", left)
		}
		if err := c.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

func TestOpenRejectsBadArguments(t *testing.T) {
	s := testenv.Local(t)
	if _, err := cache.Open(t.TempDir(), 0, s, nil); err == nil {
		t.Errorf("zero budget accepted")
	}
	if _, err := cache.Open(t.TempDir(), 100, nil, nil); err == nil {
		t.Errorf("nil store accepted")
	}
}
