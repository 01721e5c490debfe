package cache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake/cache"
	"github.com/akosha/akosha/lake/storage"
)

// 32 queries wanting the same object at once cause exactly one download.
// The store holds the download until all 32 are waiting for it, so the test
// does not depend on timing.
func TestOneDownloadForConcurrentCallers(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		const callers = 32
		cs := counting(s)
		k := key("a", "popular")
		want := putObj(t, s, k, 4096)
		c := openCache(t, t.TempDir(), 1<<20, cs)

		open := cs.hold()
		defer open()
		var wg sync.WaitGroup
		paths := make([]string, callers)
		releases := make([]func(), callers)
		errs := make([]error, callers)
		for i := range callers {
			wg.Go(func() { paths[i], releases[i], errs[i] = c.Path(testCtx(t), k, 4096) })
		}
		testenv.WaitFor(t, "all callers to wait", 30*time.Second, func() bool { return c.Stats().Misses == callers })
		open()
		wg.Wait()

		for i := range callers {
			if errs[i] != nil {
				t.Fatalf("caller %d: %v", i, errs[i])
			}
			if paths[i] != paths[0] {
				t.Errorf("caller %d got %s, caller 0 %s", i, paths[i], paths[0])
			}
		}
		if !bytes.Equal(fileContent(t, paths[0]), want) {
			t.Errorf("content differs")
		}
		st := c.Stats()
		if cs.totalGets() != 1 || st.Downloads != 1 || st.FetchedBytes != 4096 {
			t.Errorf("store gets %d, stats %+v: want exactly one download", cs.totalGets(), st)
		}
		if st.Pinned != 1 {
			t.Errorf("pinned objects %d, want 1", st.Pinned)
		}
		for _, r := range releases {
			r()
		}
		if st := c.Stats(); st.Pinned != 0 {
			t.Errorf("after every release: %+v", st)
		}
	})
}

// A caller that gives up does not cancel a download another caller still waits for.
func TestWaiterLeavingKeepsSharedDownload(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		cs := counting(s)
		k := key("a", "shared")
		putObj(t, s, k, 100)
		c := openCache(t, t.TempDir(), 1<<20, cs)

		open := cs.hold()
		defer open()
		impatient, cancel := context.WithCancel(testCtx(t))
		errA := make(chan error, 1)
		go func() { _, _, err := c.Path(impatient, k, 100); errA <- err }()
		errB := make(chan error, 1)
		go func() {
			_, release, err := c.Path(testCtx(t), k, 100)
			if err == nil {
				release()
			}
			errB <- err
		}()
		testenv.WaitFor(t, "both callers to wait", 30*time.Second, func() bool { return c.Stats().Misses == 2 })

		cancel()
		if err := <-errA; !errors.Is(err, context.Canceled) {
			t.Errorf("impatient caller: %v, want context.Canceled", err)
		}
		open()
		if err := <-errB; err != nil {
			t.Errorf("patient caller: %v", err)
		}
		if n := cs.totalGets(); n != 1 {
			t.Errorf("store gets %d, want 1", n)
		}
		if _, _, cancelled, _ := cs.snapshot(); cancelled != 0 {
			t.Errorf("the shared download was cancelled")
		}
	})
}

// When the last caller gives up, the download is cancelled and nothing is
// placed; the next caller starts afresh instead of joining the dying one.
func TestLastWaiterLeavingCancelsDownload(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		cs := counting(s)
		k := key("a", "abandoned")
		putObj(t, s, k, 100)
		dir := t.TempDir()
		c := openCache(t, dir, 1<<20, cs)

		open := cs.hold()
		defer open()
		ctx, cancel := context.WithTimeout(testCtx(t), 50*time.Millisecond)
		defer cancel()
		if _, _, err := c.Path(ctx, k, 100); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want the caller's deadline", err)
		}
		testenv.WaitFor(t, "the download to be cancelled", 30*time.Second, func() bool { _, _, n, _ := cs.snapshot(); return n == 1 })
		open()

		getReleased(t, c, k, 100)
		if n := cs.totalGets(); n != 2 {
			t.Errorf("store gets %d, want 2 (the cancelled one and a fresh one)", n)
		}
		if left := tmpEntries(t, dir); len(left) != 0 {
			t.Errorf("temporary files left: %v", left)
		}
	})
}

// Many queries over many objects with a small budget, random holds and random
// cancellations: every leased path holds its object for as long as the lease
// lasts, and afterwards the index agrees with the disk. Run it under -race.
func TestConcurrentMixedWorkload(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		const objects, workers = 24, 12
		rounds := 60
		if _, ok := s.(*storage.S3); ok || testing.Short() {
			rounds = 20
		}
		var objs []cache.Object
		contents := map[string][]byte{}
		for i := range objects {
			k := key(fmt.Sprintf("sys%02d", i%5), fmt.Sprintf("f%02d", i))
			contents[k] = putObj(t, s, k, 200+37*i)
			objs = append(objs, cache.Object{Key: k, Size: int64(200 + 37*i)})
		}
		dir := t.TempDir()
		const budget = 4000
		c := openCache(t, dir, budget, s)

		var wg sync.WaitGroup
		errc := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(w), 7))
				for range rounds {
					pick := make([]cache.Object, 1+r.IntN(4))
					for i := range pick {
						pick[i] = objs[r.IntN(objects)]
						if r.IntN(4) == 0 {
							pick[i].Size = -1
						}
					}
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					if r.IntN(6) == 0 {
						cancel() // some queries give up at once, some mid-way
					} else if r.IntN(6) == 0 {
						time.AfterFunc(time.Duration(r.IntN(2000))*time.Microsecond, cancel)
					}
					l, err := c.Fetch(ctx, pick)
					if err != nil {
						cancel()
						if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
							continue
						}
						errc <- err
						return
					}
					for i, p := range l.Paths {
						b, err := os.ReadFile(p)
						if err != nil || !bytes.Equal(b, contents[pick[i].Key]) {
							errc <- fmt.Errorf("leased %s: read %d bytes, err %v", pick[i].Key, len(b), err)
							l.Release()
							cancel()
							return
						}
					}
					if r.IntN(3) == 0 {
						time.Sleep(time.Duration(r.IntN(500)) * time.Microsecond)
					}
					l.Release()
					cancel()
				}
			})
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Error(err)
		}

		st := c.Stats()
		if st.Pinned != 0 || st.Bytes > budget {
			t.Errorf("after the workload: %+v", st)
		}
		if st.Downloads > st.Misses || st.Hits == 0 || st.Evictions == 0 {
			t.Errorf("implausible counters: %+v", st)
		}
		// The index agrees with the disk once the downloads have settled
		// (a cancelled download may still be cleaning up when Fetch returns).
		c.Close()
		var files int
		var size int64
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			fi, _ := d.Info()
			files++
			size += fi.Size()
			return nil
		})
		st = c.Stats()
		if files != st.Objects || size != st.Bytes {
			t.Errorf("disk holds %d files, %d bytes; index %d objects, %d bytes", files, size, st.Objects, st.Bytes)
		}
	})
}
