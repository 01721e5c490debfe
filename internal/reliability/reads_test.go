package reliability

import (
	"bytes"
	"context"
	"testing"

	"github.com/akosha/akosha/internal/faultproxy"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake/storage"
)

// A read whose response body is cut short never returns short data, and
// should be retried rather than failed: objects are immutable (log commits,
// data files), so reading the rest again is always safe.
//
// Weakness (not a correctness bug): lake/storage's S3 Get hands the SDK's
// body to the caller, and the SDK retries a request only until the headers
// arrive; a body cut short (a truncated or reset response) fails the whole
// operation. Under TestHTTPUnderS3Faults' 10% faults (1.7% truncated
// bodies), a snapshot refresh reading tens of commits fails about half the
// time: most compaction runs fail there, and a third of the queries answer
// 500 when they fetch data files. Nothing is lost or wrong, only failed.
func TestS3ReadsSurviveCutBodies(t *testing.T) {
	cfg := testenv.S3Config(t)
	if cfg.Endpoint == "" {
		t.Skip("fault injection needs an S3 endpoint to stand in front of")
	}
	ctx := context.Background()
	clean := newS3(t, cfg)
	if err := clean.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	want := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	if err := clean.Put(ctx, "object", bytes.NewReader(want), int64(len(want))); err != nil {
		t.Fatal(err)
	}
	px, err := faultproxy.New(cfg.Endpoint, faultproxy.Rates{Truncate: 0.2}, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	faulty := cfg
	faulty.Endpoint = px.URL
	s := newS3(t, faulty)
	const reads = 50
	failed := 0
	for i := range reads {
		got, err := storage.ReadAll(ctx, s, "object")
		if err != nil {
			failed++
			continue
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("read %d returned %d bytes that are not the object's %d: a cut body came back as data", i, len(got), len(want))
		}
	}
	if failed > 0 {
		knownBug(t, "%d of %d reads failed on a body cut short (%d truncations injected); a ranged GET of the rest would have completed them",
			failed, reads, px.Counts().Truncate)
	}
}
