package storage_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake/storage"
)

// The conformance suite: every backend must behave the same way, because the
// Delta log's correctness rests on these exact semantics.

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func put(t *testing.T, s storage.Store, key, body string) {
	t.Helper()
	if err := s.Put(ctx(t), key, strings.NewReader(body), int64(len(body))); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func get(t *testing.T, s storage.Store, key string, off, n int64) string {
	t.Helper()
	rc, err := s.Get(ctx(t), key, off, n)
	if err != nil {
		t.Fatalf("get %s [%d,%d]: %v", key, off, n, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return string(b)
}

func TestPutGetRanges(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		put(t, s, "a/b/obj.txt", "0123456789")
		cases := []struct {
			off, n int64
			want   string
		}{
			{0, -1, "0123456789"},
			{3, -1, "3456789"},
			{0, 4, "0123"},
			{5, 3, "567"},
			{8, 10, "89"}, // a range past the end is cut short, not an error
			{0, 0, ""},
		}
		for _, c := range cases {
			if got := get(t, s, "a/b/obj.txt", c.off, c.n); got != c.want {
				t.Errorf("get [%d,%d] = %q, want %q", c.off, c.n, got, c.want)
			}
		}
		// Put replaces.
		put(t, s, "a/b/obj.txt", "new")
		if got := get(t, s, "a/b/obj.txt", 0, -1); got != "new" {
			t.Errorf("after replace got %q", got)
		}
	})
}

func TestMissingObjects(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		if _, err := s.Get(ctx(t), "nope/x", 0, -1); !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("get missing: %v, want ErrNotExist", err)
		}
		if _, err := s.Head(ctx(t), "nope/x"); !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("head missing: %v, want ErrNotExist", err)
		}
		if err := s.Delete(ctx(t), "nope/x"); err != nil {
			t.Errorf("delete missing: %v, want nil", err)
		}
		list, err := s.List(ctx(t), "nope/")
		if err != nil || len(list) != 0 {
			t.Errorf("list missing prefix = %v, %v; want empty", list, err)
		}
	})
}

func TestHeadAndDelete(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		put(t, s, "h/one", "hello")
		info, err := s.Head(ctx(t), "h/one")
		if err != nil {
			t.Fatal(err)
		}
		if info.Size != 5 || info.Key != "h/one" || info.ModTime.IsZero() {
			t.Errorf("head = %+v", info)
		}
		if err := s.Delete(ctx(t), "h/one"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Head(ctx(t), "h/one"); !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("head after delete: %v", err)
		}
	})
}

func TestListByPrefixSorted(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		keys := []string{
			"tbl/_delta_log/00000000000000000001.json",
			"tbl/_delta_log/00000000000000000000.json",
			"tbl/tier=hot/system_id=a/day=2026-01-01/x.parquet",
			"tbl/tier=hot/system_id=b/day=2026-01-02/y.parquet",
			"tblother/z",
			"other/q",
		}
		for _, k := range keys {
			put(t, s, k, k)
		}
		cases := []struct {
			prefix string
			want   []string
		}{
			{"tbl/_delta_log/", []string{keys[1], keys[0]}},
			{"tbl/_delta_log/0000000000000000000", []string{keys[1], keys[0]}},
			{"tbl/tier=hot/", []string{keys[2], keys[3]}},
			{"tbl/tier=hot/system_id=b", []string{keys[3]}},
			{"tbl", []string{keys[1], keys[0], keys[2], keys[3], keys[4]}},
		}
		for _, c := range cases {
			list, err := s.List(ctx(t), c.prefix)
			if err != nil {
				t.Fatalf("list %s: %v", c.prefix, err)
			}
			var got []string
			for _, o := range list {
				got = append(got, o.Key)
				if o.Size != int64(len(o.Key)) {
					t.Errorf("list %s: %s has size %d, want %d", c.prefix, o.Key, o.Size, len(o.Key))
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("list %q = %v, want %v", c.prefix, got, c.want)
			}
		}
	})
}

func TestListPagesPastOneThousand(t *testing.T) {
	if testing.Short() {
		t.Skip("slow listing test")
	}
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		const n = 1100
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for i := 0; i < n; i++ {
			wg.Add(1)
			sem <- struct{}{}
			go func(i int) {
				defer wg.Done()
				defer func() { <-sem }()
				if err := s.Put(ctx(t), fmt.Sprintf("many/%05d", i), strings.NewReader("x"), 1); err != nil {
					t.Error(err)
				}
			}(i)
		}
		wg.Wait()
		list, err := s.List(ctx(t), "many/")
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != n {
			t.Fatalf("listed %d, want %d", len(list), n)
		}
	})
}

func TestPutIfAbsent(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		if err := s.PutIfAbsent(ctx(t), "log/0.json", strings.NewReader("first"), 5); err != nil {
			t.Fatalf("first put-if-absent: %v", err)
		}
		err := s.PutIfAbsent(ctx(t), "log/0.json", strings.NewReader("second"), 6)
		if !errors.Is(err, storage.ErrExists) {
			t.Fatalf("second put-if-absent: %v, want ErrExists", err)
		}
		if got := get(t, s, "log/0.json", 0, -1); got != "first" {
			t.Errorf("loser overwrote the object: %q", got)
		}
	})
}

// Sixteen writers race for one key: the commit protocol depends on exactly one winning.
func TestPutIfAbsentRace(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		for round := 0; round < 5; round++ {
			key := fmt.Sprintf("race/%d", round)
			var wg sync.WaitGroup
			var mu sync.Mutex
			var winners []int
			start := make(chan struct{})
			for g := 0; g < 16; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					<-start
					body := fmt.Sprintf("writer-%02d", g)
					err := s.PutIfAbsent(ctx(t), key, strings.NewReader(body), int64(len(body)))
					switch {
					case err == nil:
						mu.Lock()
						winners = append(winners, g)
						mu.Unlock()
					case errors.Is(err, storage.ErrExists):
					default:
						t.Errorf("writer %d: %v", g, err)
					}
				}(g)
			}
			close(start)
			wg.Wait()
			if len(winners) != 1 {
				t.Fatalf("round %d: %d winners %v, want exactly 1", round, len(winners), winners)
			}
			if got, want := get(t, s, key, 0, -1), fmt.Sprintf("writer-%02d", winners[0]); got != want {
				t.Errorf("round %d: object holds %q, winner wrote %q", round, got, want)
			}
		}
	})
}

func TestLargeObjectMultipart(t *testing.T) {
	t.Run("s3", func(t *testing.T) {
		cfg := testenv.S3Config(t)
		cfg.PartSize = 5 << 20 // S3's minimum part size
		s, err := storage.NewS3(ctx(t), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.EnsureBucket(ctx(t)); err != nil {
			t.Fatal(err)
		}
		data := make([]byte, 12<<20+123)
		rand.Read(data)
		// An io.Reader that cannot seek: multipart must still work.
		if err := s.Put(ctx(t), "big/obj", io.MultiReader(bytes.NewReader(data)), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		info, err := s.Head(ctx(t), "big/obj")
		if err != nil || info.Size != int64(len(data)) {
			t.Fatalf("head = %+v, %v", info, err)
		}
		if got := get(t, s, "big/obj", 6<<20, 100); got != string(data[6<<20:6<<20+100]) {
			t.Error("ranged read across a part boundary differs")
		}
	})
	t.Run("local", func(t *testing.T) {
		s := testenv.Local(t)
		data := make([]byte, 12<<20)
		rand.Read(data)
		if err := s.Put(ctx(t), "big/obj", io.MultiReader(bytes.NewReader(data)), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		if got := get(t, s, "big/obj", 0, -1); got != string(data) {
			t.Error("large object differs")
		}
	})
}

func TestPutShortBodyFails(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		if err := s.Put(ctx(t), "short/x", strings.NewReader("abc"), 10); err == nil {
			t.Fatal("put with a short body succeeded")
		}
		if _, err := s.Head(ctx(t), "short/x"); !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("a failed put left an object: %v", err)
		}
	})
}

func TestHostileKeys(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		for _, key := range []string{"", "/etc/passwd", "../escape", "a/../../b", "a//b", "a/./b", "a\\b", "a\x00b"} {
			if err := s.Put(ctx(t), key, strings.NewReader("x"), 1); err == nil {
				t.Errorf("put %q accepted", key)
			}
			if _, err := s.Get(ctx(t), key, 0, -1); err == nil {
				t.Errorf("get %q accepted", key)
			}
		}
	})
}

// The age job keeps warm and cold files in cheaper storage classes; a store
// without classes (a directory) writes them as plain objects. versitygw's
// posix backend answers STANDARD for every object, so the test also watches
// the requests on their way to it: the x-amz-storage-class header must be
// sent (AWS and MinIO keep it).
func TestPutClass(t *testing.T) {
	t.Run("s3", func(t *testing.T) {
		cfg := testenv.S3Config(t)
		target, err := url.Parse(cfg.Endpoint)
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		sent := map[string]string{} // path -> storage class header
		rp := httputil.NewSingleHostReverseProxy(target)
		watch := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut {
				mu.Lock()
				sent[r.URL.Path] = r.Header.Get("X-Amz-Storage-Class")
				mu.Unlock()
			}
			rp.ServeHTTP(w, r)
		}))
		defer watch.Close()
		cfg.Endpoint = watch.URL
		s, err := storage.NewS3(ctx(t), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.EnsureBucket(ctx(t)); err != nil {
			t.Fatal(err)
		}
		for _, class := range []string{"STANDARD_IA", "GLACIER_IR", ""} {
			key := "classes/c" + class
			if err := storage.PutClass(ctx(t), s, key, strings.NewReader("x"), 1, class); err != nil {
				t.Fatal(err)
			}
			if b := get(t, s, key, 0, -1); b != "x" {
				t.Errorf("%s: read %q", key, b)
			}
			if _, err := s.StorageClassOf(ctx(t), key); err != nil {
				t.Errorf("%s: head: %v", key, err)
			}
			mu.Lock()
			got, ok := sent["/"+cfg.Bucket+"/"+cfg.Prefix+"/"+key]
			mu.Unlock()
			if !ok || got != class {
				t.Errorf("%s: PUT sent storage class %q (seen %v), want %q", key, got, ok, class)
			}
		}
	})
	t.Run("local", func(t *testing.T) {
		s := testenv.Local(t)
		if err := storage.PutClass(ctx(t), s, "a/b", strings.NewReader("y"), 1, "GLACIER_IR"); err != nil {
			t.Fatal(err)
		}
		if b := get(t, s, "a/b", 0, -1); b != "y" {
			t.Errorf("read %q", b)
		}
	})
}
