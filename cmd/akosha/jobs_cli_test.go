package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/lease"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/storage"
)

// The jobs as an operator runs them: dry run, a run, a second run while
// another holds the lease (exit 4, nothing changed), bad flags (exit 2),
// and the metrics pushed at the end.
func TestAgeAndIndexJobsOnALocalLake(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AKOSHA_CACHE_DIR", t.TempDir())
	t.Setenv("AKOSHA_REDIS_URL", "") // leases on the lake's own store
	var mu sync.Mutex
	pushes := map[string]int{}
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		pushes[r.Method+" "+r.URL.Path]++
		mu.Unlock()
	}))
	defer gw.Close()
	t.Setenv("AKOSHA_PUSHGATEWAY_URL", gw.URL)

	ctx := context.Background()
	s, _ := storage.NewLocal(dir)
	l, err := lake.Open(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendMemories(ctx, gen.Memories(1, 60, 2, 3)); err != nil { // 2026-11-01..03
		t.Fatal(err)
	}
	const now = "2026-11-20T00:00:00Z" // every day is 16+ days old: warm
	count := func() string {
		out, err := run(t, "sql", "--lake", dir, "--format", "csv",
			"SELECT tier, count(*) AS n FROM memories GROUP BY tier ORDER BY tier")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	out, err := run(t, "job", "age", "--lake", dir, "--now", now, "--dry-run")
	if err != nil || !strings.Contains(out, "memories: 3 moves") || !strings.Contains(out, "hot->warm") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if got := count(); got != "tier,n\nhot,60\n" {
		t.Fatalf("after the dry run: %q", got)
	}

	for _, args := range [][]string{
		{"--warm-days", "10", "--cold-days", "5"},
		{"--now", "yesterday"},
		{"--max-move-size", "-1"},
		{"--table", "nope"},
	} {
		_, err := run(t, append([]string{"job", "age", "--lake", dir}, args...)...)
		if exitCodeOf(err) != exitUsage {
			t.Errorf("age %v: exit %d (%v), want %d", args, exitCodeOf(err), err, exitUsage)
		}
	}

	// Another run holds the lease: this one changes nothing.
	acq, closeLeases, err := lease.Open("", s, lease.Options{})
	if err != nil {
		t.Fatal(err)
	}
	held, err := acq.Acquire(ctx, "age", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, err = run(t, "job", "age", "--lake", dir, "--now", now)
	if exitCodeOf(err) != exitLeased || !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("age under another's lease: exit %d (%v)", exitCodeOf(err), err)
	}
	if got := count(); got != "tier,n\nhot,60\n" {
		t.Fatalf("a run without the lease changed the lake: %q", got)
	}
	if err := held.Release(ctx); err != nil {
		t.Fatal(err)
	}
	closeLeases()

	out, err = run(t, "job", "age", "--lake", dir, "--now", now)
	if err != nil || !strings.Contains(out, "age: 3 moved, 0 deleted, 0 skipped") {
		t.Fatalf("age: %v\n%s", err, out)
	}
	if got := count(); got != "tier,n\nwarm,60\n" {
		t.Fatalf("after aging: %q", got)
	}
	out, err = run(t, "job", "index", "--lake", dir, "--min-vectors", "1")
	if err != nil || !strings.Contains(out, "1 built") { // one index per tier, across days and systems
		t.Fatalf("index over warm partitions: %v\n%s", err, out)
	}

	mu.Lock()
	defer mu.Unlock()
	// Successful runs replace their group (PUT); the leased-out and usage
	// failures add to it (POST), keeping the last success's time.
	if pushes["PUT /metrics/job/akosha_age"] != 2 || pushes["PUT /metrics/job/akosha_index"] != 1 ||
		pushes["POST /metrics/job/akosha_age"] != 5 {
		t.Errorf("metrics pushed: %v", pushes)
	}
}
