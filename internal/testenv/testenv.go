// Package testenv connects tests to the real services `make test` starts: an
// S3-compatible server and redis-server. Endpoints come from the environment,
// so the same tests run against MinIO or AWS:
//
//	AKOSHA_TEST_S3_ENDPOINT  e.g. http://127.0.0.1:7070 (empty with AKOSHA_TEST_S3_BUCKET set: AWS)
//	AKOSHA_TEST_S3_BUCKET    bucket to use (default akosha-test; created when missing)
//	AKOSHA_TEST_S3_REGION    default us-east-1
//	AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY  the standard credential chain
//	AKOSHA_TEST_REDIS_URL    e.g. redis://127.0.0.1:6390/0
//
// Without them the tests that need a service skip, unless
// AKOSHA_TEST_REQUIRE_SERVICES=1 (set by `make test`), in which case they fail:
// a CI run must never pass by skipping.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/akosha/akosha/lake/storage"
)

func missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("AKOSHA_TEST_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s is not configured but AKOSHA_TEST_REQUIRE_SERVICES=1 (run the suite with `make test`)", what)
	}
	t.Skipf("%s not configured: run `make test`, which starts it", what)
}

// S3Config returns the test server's settings and a unique key prefix, so
// tests share one bucket without seeing each other's objects.
func S3Config(t testing.TB) storage.S3Config {
	t.Helper()
	endpoint := os.Getenv("AKOSHA_TEST_S3_ENDPOINT")
	bucket := os.Getenv("AKOSHA_TEST_S3_BUCKET")
	if endpoint == "" && bucket == "" {
		missing(t, "S3 test server (AKOSHA_TEST_S3_ENDPOINT)")
	}
	if bucket == "" {
		bucket = "akosha-test"
	}
	region := os.Getenv("AKOSHA_TEST_S3_REGION")
	if region == "" {
		region = "us-east-1"
	}
	return storage.S3Config{
		Bucket:    bucket,
		Prefix:    "t/" + sanitize(t.Name()) + "-" + RandomID(),
		Endpoint:  endpoint,
		Region:    region,
		PathStyle: endpoint != "",
	}
}

// S3 opens a store on the test server under a fresh prefix.
func S3(t testing.TB) *storage.S3 {
	t.Helper()
	cfg := S3Config(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := storage.NewS3(ctx, cfg)
	if err != nil {
		t.Fatalf("s3 store: %v", err)
	}
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatalf("s3 bucket: %v", err)
	}
	return s
}

// Local opens a store in a fresh temporary directory.
func Local(t testing.TB) *storage.Local {
	t.Helper()
	s, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatalf("local store: %v", err)
	}
	return s
}

// Backends runs fn once per storage backend, as a subtest named after it.
func Backends(t *testing.T, fn func(t *testing.T, s storage.Store)) {
	t.Run("local", func(t *testing.T) { fn(t, Local(t)) })
	t.Run("s3", func(t *testing.T) { fn(t, S3(t)) })
}

// RedisURL returns the test redis-server's URL.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("AKOSHA_TEST_REDIS_URL")
	if u == "" {
		missing(t, "redis-server (AKOSHA_TEST_REDIS_URL)")
	}
	return u
}

// WaitFor polls cond until it holds, failing the test when it does not
// within the deadline: tests wait on conditions, never on fixed sleeps.
func WaitFor(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// CPUProfile writes a CPU profile to prefix+suffix until the returned stop
// is called; with an empty prefix (its environment variable unset) it does
// nothing. Benchmarks profile a phase alone with it: go test -cpuprofile
// would also profile their set-up, which often dwarfs what they measure.
func CPUProfile(tb testing.TB, prefix, suffix string) (stop func()) {
	tb.Helper()
	if prefix == "" {
		return func() {}
	}
	f, err := os.Create(prefix + suffix)
	if err != nil {
		tb.Fatalf("profile: %v", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		tb.Fatalf("profile: %v", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// RandomID is a short random hex string for unique names.
func RandomID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func sanitize(name string) string {
	r := strings.NewReplacer("/", "-", " ", "_", ":", "_")
	name = r.Replace(name)
	if len(name) > 60 {
		name = name[:60]
	}
	return name
}

// Context returns a context for a test's I/O that ends a little before the
// test binary's deadline (go test -timeout), or after ten minutes when it
// has none. A fixed per-test deadline of a minute or two failed whole
// lifecycle tests on a loaded machine (under the race detector, beside
// other packages) though nothing was stuck; the binary's deadline still
// bounds a test that hangs, and ending first gives it a clear failure
// instead of the timeout's goroutine dump.
func Context(t testing.TB) context.Context {
	deadline := time.Now().Add(10 * time.Minute)
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if end, ok := d.Deadline(); ok {
			deadline = end.Add(-time.Until(end) / 20) // 5% of what is left, for the failure report
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	t.Cleanup(cancel)
	return ctx
}
