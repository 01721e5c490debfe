package cache_test

import (
	"slices"
	"testing"

	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake/storage"
)

// With room for three 10-byte objects, a fourth evicts the least recently
// used one; a hit counts as a use.
func TestLRUEvictionOrder(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		a, b, cc, d := key("s", "a"), key("s", "b"), key("s", "c"), key("s", "d")
		for _, k := range []string{a, b, cc, d} {
			putObj(t, s, k, 10)
		}
		dir := t.TempDir()
		c := openCache(t, dir, 30, s)

		getReleased(t, c, a, 10)
		getReleased(t, c, b, 10)
		getReleased(t, c, cc, 10)
		getReleased(t, c, a, 10) // a is now the most recent: order b, c, a

		getReleased(t, c, d, 10) // evicts b
		assertHeld(t, dir, map[string]bool{a: true, b: false, cc: true, d: true})

		getReleased(t, c, b, 10) // a miss again; evicts c
		assertHeld(t, dir, map[string]bool{a: true, b: true, cc: false, d: true})

		if st := c.Stats(); st.Evictions != 2 || st.Bytes != 30 || st.Objects != 3 || st.Misses != 5 || st.Hits != 1 {
			t.Errorf("stats %+v", st)
		}
	})
}

// A pinned file is never evicted, even when it is the least recently used;
// the cache goes over budget rather than delete a file a query is reading,
// and catches up when the pin is released.
func TestPinnedEntriesAreNotEvicted(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		a, b, cc, d := key("s", "a"), key("s", "b"), key("s", "c"), key("s", "d")
		for _, k := range []string{a, b, cc, d} {
			putObj(t, s, k, 10)
		}
		dir := t.TempDir()
		c := openCache(t, dir, 20, s)

		_, releaseA := get(t, c, a, 10) // a: pinned, least recently used
		getReleased(t, c, b, 10)
		getReleased(t, c, cc, 10) // must evict: b goes, not a
		assertHeld(t, dir, map[string]bool{a: true, b: false, cc: true})

		_, releaseC := get(t, c, cc, 10)
		getReleased(t, c, d, 10) // a and c pinned: d is placed, the cache goes over budget...
		st := c.Stats()
		if st.Bytes != 20 || st.Objects != 2 {
			// ...and d itself, unpinned and over budget, is evicted at once.
			t.Errorf("with everything else pinned: %+v", st)
		}
		assertHeld(t, dir, map[string]bool{a: true, cc: true, d: false})

		releaseA()
		releaseC()
		if st := c.Stats(); st.Bytes != 20 || st.Pinned != 0 {
			t.Errorf("after releases: %+v", st)
		}
	})
}

// An object larger than the whole budget is still served: placed, pinned while
// used, and evicted once released. Refusing it would make a large file
// unqueryable; streaming it around the cache would give DuckDB no path.
func TestOversizedObject(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		small, big := key("s", "small"), key("s", "big")
		putObj(t, s, small, 5)
		want := putObj(t, s, big, 25)
		dir := t.TempDir()
		c := openCache(t, dir, 10, s)
		getReleased(t, c, small, 5)

		p, release1 := get(t, c, big, 25)
		_, release2 := get(t, c, big, 25) // a second reader shares it: a hit
		if string(fileContent(t, p)) != string(want) {
			t.Errorf("oversized object content differs")
		}
		st := c.Stats()
		if st.Bytes != 25 || st.Hits != 1 || st.Objects != 1 {
			t.Errorf("while the oversized object is pinned: %+v (the small one should have made room)", st)
		}
		release1()
		if !exists(p) {
			t.Fatalf("evicted while still pinned by the second reader")
		}
		release2()
		if exists(p) {
			t.Errorf("oversized object kept after its last release")
		}
		if st := c.Stats(); st.Bytes != 0 || st.Objects != 0 || st.Evictions != 2 {
			t.Errorf("after release: %+v", st)
		}
	})
}

func assertHeld(t *testing.T, dir string, want map[string]bool) {
	t.Helper()
	for k, held := range want {
		if got := exists(cachedFile(dir, k)); got != held {
			t.Errorf("%s held = %v, want %v", k, got, held)
		}
	}
}

// OnRemove hears of every object that leaves, evicted or forgotten, and of
// none that stays (a pinned file Forget skips): what a caller derived from
// an object goes with it.
func TestOnRemoveHearsEvictionsAndForgets(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		a, b, cc := key("s", "a"), key("s", "b"), key("s", "c")
		for _, k := range []string{a, b, cc} {
			putObj(t, s, k, 10)
		}
		dir := t.TempDir()
		c := openCache(t, dir, 20, s)
		var removed []string
		c.OnRemove(func(key string) { removed = append(removed, key) }) // called under the cache's lock

		getReleased(t, c, a, 10)
		getReleased(t, c, b, 10)
		getReleased(t, c, cc, 10) // evicts a
		_, release := get(t, c, b, 10)
		if n := c.Forget([]string{b, cc}); n != 1 { // b is pinned: only c goes
			t.Fatalf("forgot %d, want 1", n)
		}
		assertHeld(t, dir, map[string]bool{a: false, b: true, cc: false})
		release()
		if n := c.Forget([]string{b}); n != 1 {
			t.Fatalf("forgot %d, want 1", n)
		}
		if want := []string{a, cc, b}; !slices.Equal(removed, want) {
			t.Fatalf("removed %v, want %v", removed, want)
		}
	})
}
