package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/jobs/age"
	"github.com/akosha/akosha/jobs/compact"
	"github.com/akosha/akosha/jobs/indexer"
	"github.com/akosha/akosha/jobs/vacuum"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// Each role opens its own Lake on the store, as separate processes would.
func open(t testing.TB, s storage.Store) *lake.Lake {
	t.Helper()
	l, err := lake.Open(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// ledger is what the ingest loop knows: records attempted and acknowledged,
// and the content each re-sent record last had acknowledged.
type ledger struct {
	attempted atomic.Int64 // distinct keys ever sent (counted before the send)
	acked     atomic.Int64 // distinct keys acknowledged (counted after the commit)
	mu        sync.Mutex
	latest    map[string]string // sys/id -> content of the last acknowledged send
	ambiguous map[string]bool   // a send with an unknown outcome: content not checked
	ackedKeys []schemas.Memory
}

// TestChaosIngestAndJobs runs ingest at a steady rate while two compactors,
// the age job (moving the same days hot -> warm -> cold again and again, as
// ingest keeps adding hot files to them), the index job and vacuum run in
// loops, and checks with SQL throughout that every acknowledged record is
// visible exactly once.
func TestChaosIngestAndJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos test: not in -short")
	}
	// Most of its time is paced waiting (ingest every 100 ms, job loops,
	// vacuum's grace): it runs beside the other chaos test.
	t.Parallel()
	dur, grace := 20*time.Second, 8*time.Second
	if os.Getenv("AKOSHA_CHAOS_LONG") == "1" {
		dur = 3 * time.Minute
	}
	s := testenv.S3(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	ingestLake := open(t, s)
	a, err := auth.New(auth.Config{Disabled: true})
	if err != nil {
		t.Fatal(err)
	}
	checkLake := open(t, s)
	q, err := query.Open(checkLake, a, query.Config{CacheDir: t.TempDir(), SQLTimeout: time.Minute}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Stop(context.Background())

	led := &ledger{latest: map[string]string{}, ambiguous: map[string]bool{}}
	var wg sync.WaitGroup
	stopIngest := make(chan struct{})
	ingestDone := make(chan struct{})

	// Ingest: a batch every 100 ms, each with its idempotency key; every
	// fifth batch re-sends earlier records with new content.
	var batches, resends atomic.Int64
	go func() {
		defer close(ingestDone)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stopIngest:
				return
			case <-tick.C:
			}
			var recs []schemas.Memory
			fresh := 0
			if i%5 == 4 {
				led.mu.Lock()
				n := len(led.ackedKeys)
				for j := 0; j < 8 && n > 0; j++ {
					m := led.ackedKeys[(i*7919+j*104729)%n]
					m.Content = fmt.Sprintf("v2 batch %d %s", i, m.ID)
					recs = append(recs, m)
				}
				led.mu.Unlock()
				resends.Add(1)
			} else {
				recs = gen.Memories(uint64(1000+i), 20, 3, 2)
				for j := range recs {
					if j%5 != 0 {
						recs[j].Embedding = nil // small files; a few vectors for the index job
					}
					recs[j].Content = recs[j].Content[:80]
				}
				fresh = len(recs)
			}
			if len(recs) == 0 {
				continue
			}
			// Distinct keys within a batch.
			seen := map[string]bool{}
			uniq := recs[:0]
			for _, m := range recs {
				if !seen[m.ID] {
					seen[m.ID] = true
					uniq = append(uniq, m)
				}
			}
			recs = uniq
			led.attempted.Add(int64(fresh))
			_, err := ingestLake.AppendMemories(ctx, recs, delta.Txn{AppID: fmt.Sprintf("chaos-%d", i), Version: 1})
			led.mu.Lock()
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("ingest batch %d: %v", i, err)
				}
				for _, m := range recs {
					led.ambiguous[m.SystemID+"/"+m.ID] = true
				}
				led.mu.Unlock()
				return
			}
			for _, m := range recs {
				led.latest[m.SystemID+"/"+m.ID] = m.Content
			}
			if fresh > 0 {
				led.ackedKeys = append(led.ackedKeys, recs...)
			}
			led.mu.Unlock()
			led.acked.Add(int64(fresh))
			batches.Add(1)
		}
	}()

	// Two compactors (two processes, no lease between them: their races are
	// part of the test) and a vacuum, each in a loop.
	var compacted, skipped, vacuumed atomic.Int64
	loop := func(name string, every time.Duration, fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := fn(); err != nil && ctx.Err() == nil {
					t.Errorf("%s: %v", name, err)
				}
				select {
				case <-ctx.Done():
				case <-time.After(every):
				}
			}
		}()
	}
	for c := range 2 {
		l := open(t, s)
		loop(fmt.Sprint("compact ", c), time.Second, func() error {
			sum, err := compact.Run(ctx, l, compact.Options{Tables: []string{schemas.TableMemories}})
			if errors.Is(err, context.Canceled) {
				return nil
			}
			if sum != nil {
				tot := sum.Totals()
				compacted.Add(int64(tot.Compacted))
				skipped.Add(int64(tot.Skipped))
			}
			return err
		})
	}
	// Aging: gen's days (2026-11-01 and 02) are weeks old, so every run
	// moves the hot files ingest added since the last one; every other
	// run uses a policy that sends them (and the warm ones) to cold.
	var moved, ageSkipped atomic.Int64
	al := open(t, s)
	var ageRuns int
	loop("age", 400*time.Millisecond, func() error {
		ageRuns++
		policy := age.Policy{WarmAfter: 7, ColdAfter: 90, DeleteAfter: 100000}
		if ageRuns%2 == 0 {
			policy.ColdAfter = 8
		}
		sum, err := age.Run(ctx, al, age.Options{Policy: policy, Tables: []string{schemas.TableMemories}})
		if sum != nil { // a run cut short by the test's end has moved what it moved
			moved.Add(int64(sum.Moved))
			ageSkipped.Add(int64(sum.Skipped))
		}
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	})
	var indexed atomic.Int64
	il := open(t, s)
	loop("index", time.Second, func() error {
		sum, err := indexer.Run(ctx, il, indexer.Options{MinVectors: 1})
		if errors.Is(err, context.Canceled) || errors.Is(err, indexer.ErrPartitionsFailed) && ctx.Err() != nil {
			return nil
		}
		indexed.Add(int64(sum.Built))
		return err
	})
	vl := open(t, s)
	loop("vacuum", 500*time.Millisecond, func() error {
		sum, err := vacuum.Run(ctx, vl, vacuum.Options{
			Tables: []string{schemas.TableMemories},
			Grace:  grace, OrphanGrace: time.Minute, LogRetention: 10 * time.Second,
		})
		if errors.Is(err, context.Canceled) {
			return nil
		}
		if sum != nil {
			n, _, _ := sum.Total()
			vacuumed.Add(int64(n))
		}
		return err
	})

	// The checker: at every moment every acknowledged record is visible
	// exactly once, and nothing beyond what was attempted.
	const countSQL = "SELECT count(*), count(DISTINCT system_id || '/' || id) FROM memories"
	counts := func() (total, distinct int64) {
		res, err := q.Query(ctx, countSQL, 0)
		if err != nil {
			t.Fatalf("checker query: %v", err)
		}
		return toInt(res.Rows[0][0]), toInt(res.Rows[0][1])
	}
	checks := 0
	deadline := time.Now().Add(dur)
	for time.Now().Before(deadline) && !t.Failed() {
		ackedBefore := led.acked.Load()
		total, distinct := counts()
		attemptedAfter := led.attempted.Load()
		if total != distinct {
			t.Fatalf("check %d: %d rows but %d distinct records: something is doubled", checks, total, distinct)
		}
		if distinct < ackedBefore {
			t.Fatalf("check %d: %d records visible, %d acknowledged before the query: something is lost", checks, distinct, ackedBefore)
		}
		if distinct > attemptedAfter {
			t.Fatalf("check %d: %d records visible, only %d attempted", checks, distinct, attemptedAfter)
		}
		checks++
		time.Sleep(150 * time.Millisecond)
	}
	close(stopIngest)
	<-ingestDone
	// Let the last vacuum pass see removed files past the grace, then stop.
	cancel()
	wg.Wait()
	if t.Failed() {
		return
	}

	// Quiet lake: one last age and compaction, a vacuum past the grace,
	// and the final accounting.
	final := context.Background()
	fl := open(t, s)
	// Versions of a record in different tiers of one day meet in one
	// partition once the last hot files are moved; compaction then
	// collapses them.
	if _, err := age.Run(final, fl, age.Options{Policy: age.Policy{WarmAfter: 7, ColdAfter: 8, DeleteAfter: 100000}}); err != nil {
		t.Fatal(err)
	}
	if _, err := compact.Run(final, fl, compact.Options{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(grace + time.Second)
	if _, err := vacuum.Run(final, fl, vacuum.Options{Grace: grace, OrphanGrace: time.Minute, LogRetention: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	ctx = final
	acked := led.acked.Load()
	total, distinct := counts()
	if total != acked || distinct != acked || acked != led.attempted.Load() {
		t.Fatalf("final: %d rows, %d distinct, %d acknowledged, %d attempted", total, distinct, acked, led.attempted.Load())
	}
	// The latest version of every re-sent record won, through compaction.
	res, err := q.Query(final, "SELECT system_id || '/' || id, content FROM memories WHERE content LIKE 'v2 %'", 100000)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range res.Rows {
		got[r[0].(string)] = r[1].(string)
	}
	wantV2 := 0
	for k, c := range led.latest {
		if led.ambiguous[k] || len(c) < 3 || c[:3] != "v2 " {
			continue
		}
		wantV2++
		if got[k] != c {
			t.Errorf("%s: content %q, want the latest acknowledged %q", k, got[k], c)
		}
	}
	if wantV2 == 0 || len(got) != wantV2 {
		t.Errorf("re-sent records visible with v2 content: %d, want %d", len(got), wantV2)
	}
	// Raw files: after the final compaction no record has two rows, and
	// every live file exists.
	rawRows := rawCount(t, fl, s)
	if rawRows != acked {
		t.Errorf("raw rows in live files %d, want %d (versions not collapsed?)", rawRows, acked)
	}
	// Every partition the final policy makes due for cold was moved there:
	// the final run lost no race (nothing else was running), and what the
	// loops moved meanwhile was moved forward, never lost.
	snap, err := func() (*delta.Snapshot, error) {
		tb, err := fl.Table(schemas.TableMemories)
		if err != nil {
			return nil, err
		}
		return tb.Refresh(final)
	}()
	if err != nil {
		t.Fatal(err)
	}
	for a := range snap.AllFiles() {
		if p, err := lake.PartitionOf(a.PartitionValues); err != nil || p.Tier != schemas.TierCold {
			t.Errorf("live file %s is in %+v (%v), want every due partition in cold", a.Path, p, err)
		}
	}
	// What timing gave: logged, not asserted. Each loop ran at least once
	// (its first run starts at once), and the counts say how much of the
	// load each job kept up with.
	t.Logf("%s: %d batches (%d re-send batches), %d records, %d checks, %d groups compacted, %d skipped on conflict, "+
		"%d partitions moved, %d moves skipped, %d indexes built, %d objects vacuumed",
		dur, batches.Load(), resends.Load(), acked, checks, compacted.Load(), skipped.Load(),
		moved.Load(), ageSkipped.Load(), indexed.Load(), vacuumed.Load())
}

func toInt(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case uint64:
		return int64(n)
	case int32:
		return int64(n)
	case float64:
		return int64(n)
	}
	panic(fmt.Sprintf("count of type %T", v))
}

func rawCount(t *testing.T, l *lake.Lake, s storage.Store) int64 {
	t.Helper()
	ctx := context.Background()
	tb, _ := l.Table(schemas.TableMemories)
	snap, err := tb.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for a := range snap.AllFiles() {
		k, _ := tb.Log.DataKey(a.Path)
		b, err := storage.ReadAll(ctx, s, k)
		if err != nil {
			t.Fatalf("live file %s: %v", k, err)
		}
		r := parquet.NewGenericReader[schemas.MemoryRow](bytes.NewReader(b))
		buf := make([]schemas.MemoryRow, 256)
		for {
			c, err := r.Read(buf)
			n += int64(c)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		r.Close()
	}
	return n
}
