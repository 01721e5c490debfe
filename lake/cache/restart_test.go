package cache_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake/cache"
	"github.com/akosha/akosha/lake/storage"
)

// A restarted process reuses the files the previous one downloaded.
func TestRestartReusesFiles(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		a, b := key("a", "one"), key("b", "two")
		putObj(t, s, a, 100)
		want := putObj(t, s, b, 200)
		dir := t.TempDir()

		first, err := cache.Open(dir, 1<<20, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		getReleased(t, first, a, 100)
		getReleased(t, first, b, 200)
		first.Close()

		cs := counting(s)
		second := openCache(t, dir, 1<<20, cs)
		if st := second.Stats(); st.Objects != 2 || st.Bytes != 300 {
			t.Errorf("restart indexed %+v, want 2 objects, 300 bytes", st)
		}
		p := getReleased(t, second, b, 200)
		if string(fileContent(t, p)) != string(want) {
			t.Errorf("reused file differs")
		}
		if st := second.Stats(); st.Hits != 1 || st.Misses != 0 || cs.totalGets() != 0 {
			t.Errorf("after restart: %+v, store gets %d: want a hit without download", st, cs.totalGets())
		}
	})
}

// A restart with a smaller budget evicts down to it, oldest modification
// time first: hits refresh the time, so it approximates last use.
func TestRestartEvictsLeastRecentlyUsed(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		a, b, cc := key("s", "a"), key("s", "b"), key("s", "c")
		dir := t.TempDir()
		first, err := cache.Open(dir, 1<<20, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{a, b, cc} {
			putObj(t, s, k, 10)
			getReleased(t, first, k, 10)
		}
		first.Close()
		now := time.Now()
		for k, age := range map[string]time.Duration{a: 3 * time.Hour, b: time.Hour, cc: 2 * time.Hour} {
			if err := os.Chtimes(cachedFile(dir, k), now.Add(-age), now.Add(-age)); err != nil {
				t.Fatal(err)
			}
		}

		second := openCache(t, dir, 20, s)
		assertHeld(t, dir, map[string]bool{a: false, b: true, cc: true})
		if st := second.Stats(); st.Evictions != 1 || st.Bytes != 20 {
			t.Errorf("after restart over budget: %+v", st)
		}
		// a's directory is shared with b and c, so it stays; the file is gone.
		if !exists(filepath.Dir(cachedFile(dir, a))) {
			t.Errorf("a non-empty partition directory was removed")
		}

		// A hit refreshes the time: c, used now, outlives b at the next restart.
		getReleased(t, second, cc, 10)
		second.Close()
		third := openCache(t, dir, 10, s)
		assertHeld(t, dir, map[string]bool{b: false, cc: true})
		if st := third.Stats(); st.Objects != 1 {
			t.Errorf("after the second restart: %+v", st)
		}
	})
}

// Open deletes downloads a previous process left half done in .tmp, and
// removes the partition directories eviction empties.
func TestOpenRemovesLeftoverTempFiles(t *testing.T) {
	s := testenv.Local(t)
	dir := t.TempDir()
	for _, p := range []string{".tmp/fetch-123", ".tmp/nested/fetch-456"} {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("half a parquet"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	kept := key("a", "kept")
	if err := os.MkdirAll(filepath.Dir(cachedFile(dir, kept)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cachedFile(dir, kept), body(kept, 30), 0o644); err != nil {
		t.Fatal(err)
	}

	c := openCache(t, dir, 1<<20, s)
	if left := tmpEntries(t, dir); len(left) != 0 {
		t.Errorf("leftovers survived Open: %v", left)
	}
	if st := c.Stats(); st.Objects != 1 || st.Bytes != 30 {
		t.Errorf("temporary files must not be indexed: %+v", st)
	}
	if !exists(cachedFile(dir, kept)) {
		t.Errorf("a cached object was deleted")
	}
}

// Evicting the last file of a partition removes its now-empty directories,
// so seven years of day= directories do not pile up.
func TestEvictionPrunesEmptyDirectories(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		a, b := key("old", "a"), key("new", "b")
		putObj(t, s, a, 10)
		putObj(t, s, b, 10)
		dir := t.TempDir()
		c := openCache(t, dir, 10, s)
		getReleased(t, c, a, 10)
		getReleased(t, c, b, 10)
		if exists(filepath.Join(dir, "memories", "tier=hot", "system_id=old")) {
			t.Errorf("empty partition directories left behind")
		}
		if !exists(filepath.Join(dir, "memories", "tier=hot")) {
			t.Errorf("a directory still in use was removed")
		}
	})
}
