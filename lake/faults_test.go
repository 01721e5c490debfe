package lake_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/akosha/akosha/internal/faultproxy"
	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// Under 10% injected S3 faults (500s, 503 SlowDown, resets before and after
// the server acted, truncated bodies, delays), writers retry each batch with
// its idempotency key until it is acknowledged: every batch lands exactly
// once and every live file exists.
func TestCommitsUnderS3Faults(t *testing.T) {
	cfg := testenv.S3Config(t)
	if cfg.Endpoint == "" {
		t.Skip("fault injection needs an S3 endpoint to stand in front of")
	}
	clean, err := storage.NewS3(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := clean.EnsureBucket(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	px, err := faultproxy.New(cfg.Endpoint, faultproxy.Uniform(0.10), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	faulty := cfg
	faulty.Endpoint = px.URL
	s, err := storage.NewS3(testCtx(t), faulty)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lake.Open(testCtx(t), clean); err != nil {
		t.Fatal(err)
	}

	const writers, batches, perBatch = 4, 25, 3
	var wg sync.WaitGroup
	var mu sync.Mutex
	attempts, failures := 0, 0
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var l *lake.Lake
			for l == nil {
				var err error
				if l, err = lake.Open(testCtx(t), s); err != nil {
					time.Sleep(10 * time.Millisecond)
				}
			}
			for b := 0; b < batches; b++ {
				recs := gen.Memories(uint64(w*1000+b), perBatch, 2, 1)
				key := fmt.Sprintf("w%d-b%d", w, b)
				for try := 0; ; try++ {
					if try > 50 {
						t.Errorf("%s: not acknowledged after 50 tries", key)
						return
					}
					mu.Lock()
					attempts++
					mu.Unlock()
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					_, err := l.AppendMemories(ctx, recs, delta.Txn{AppID: key, Version: 1})
					cancel()
					if err == nil || errors.Is(err, delta.ErrTxnCommitted) {
						break // acknowledged, now or by an earlier try whose answer was lost
					}
					mu.Lock()
					failures++
					mu.Unlock()
					// Unacknowledged: retry with the same key, on a fresh view of the log.
					tbl, _ := l.Table(schemas.TableMemories)
					tbl.Refresh(context.Background())
				}
			}
		}(w)
	}
	wg.Wait()
	c := px.Counts()
	t.Logf("%d requests through the proxy, %d faults injected (%+v); %d commit attempts, %d failed and were retried",
		c.Requests, c.Faults(), c, attempts, failures)
	if c.Faults() == 0 {
		t.Fatal("no fault was injected")
	}
	snap, err := delta.NewTable(clean, schemas.TableMemories).Snapshot(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	for w := 0; w < writers; w++ {
		for b := 0; b < batches; b++ {
			if _, ok := snap.Txn(fmt.Sprintf("w%d-b%d", w, b)); !ok {
				t.Errorf("batch w%d-b%d was acknowledged but is not in the log", w, b)
			}
		}
	}
	var rows int64
	for _, f := range snap.Files() {
		st, _ := f.ParsedStats()
		rows += st.NumRecords
		if _, err := clean.Head(testCtx(t), schemas.TableMemories+"/"+f.Path); err != nil {
			t.Errorf("live file %s is missing: %v", f.Path, err)
		}
	}
	if want := int64(writers * batches * perBatch); rows != want {
		t.Errorf("%d records live, want %d: a batch was lost or doubled", rows, want)
	}
}
