package chaos

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/jobs/age"
	"github.com/akosha/akosha/jobs/compact"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/schemas"
)

// TestAgeProgressesBesideCompaction is the worst case for a tier move:
// ingest adds hot files to weeks-old days every 50 ms, and two compactors
// merge those same partitions every couple of hundred milliseconds, each
// commit removing files a move is reading. For 20 s the age job runs every
// 100 ms after its last run ended (a breath, not a schedule), and every
// run must move every partition that was due when it planned: a move that
// loses a race is planned again on the new files and retried within the
// run, never given up.
func TestAgeProgressesBesideCompaction(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos test: not in -short")
	}
	t.Parallel()
	s := testenv.S3(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	policy := age.Policy{WarmAfter: 7, ColdAfter: 90, DeleteAfter: 100000}

	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	errc := make(chan error, 8)
	run := func(name string, fn func(i int) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				if err := fn(i); err != nil && ctx.Err() == nil {
					errc <- fmt.Errorf("%s: %w", name, err)
					return
				}
			}
		}()
	}
	il := open(t, s)
	run("ingest", func(i int) error {
		recs := gen.Memories(uint64(5000+i), 3, 3, 2) // 3 systems, gen's 2 days: 6 partitions
		for j := range recs {
			recs[j].Content = recs[j].Content[:60]
			if j%10 != 0 {
				recs[j].Embedding = nil // aging moves bytes: keep them few
			}
		}
		_, err := il.AppendMemories(ctx, recs)
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
		return err
	})
	var mu sync.Mutex
	compacted, compactions := 0, 0
	for c := range 2 {
		cl := open(t, s)
		run(fmt.Sprint("compact ", c), func(int) error {
			sum, err := compact.Run(ctx, cl, compact.Options{Tables: []string{schemas.TableMemories}})
			if sum != nil {
				mu.Lock()
				compacted += sum.Totals().Compacted
				compactions++
				mu.Unlock()
			}
			if errors.Is(err, context.Canceled) {
				return nil
			}
			// A breath between runs: each compactor still commits every
			// couple of hundred milliseconds (the pace that starved aging
			// in #21), without spinning on two cores for 20 s.
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			return err
		})
	}

	al := open(t, s)
	deadline := time.Now().Add(20 * time.Second)
	runs, moved, maxTries := 0, 0, 0
	for time.Now().Before(deadline) {
		select {
		case err := <-errc:
			t.Fatal(err)
		case <-time.After(100 * time.Millisecond): // the job's next run
		}
		sum, err := age.Run(ctx, al, age.Options{Policy: policy, Tables: []string{schemas.TableMemories}})
		if err != nil {
			t.Fatalf("age run %d: %v", runs, err)
		}
		for _, r := range sum.Results {
			maxTries = max(maxTries, r.Attempts)
			if r.Status != age.StatusMoved {
				t.Fatalf("age run %d: %s %s after %d tries: %s (%v)", runs, r.Kind, r.From, r.Attempts, r.Status, r.Err)
			}
		}
		runs++
		moved += sum.Moved
	}
	cancel()
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}

	// Quiet now: one more run moves what ingest added last, and then no
	// hot file is left in a due partition.
	final := context.Background()
	if _, err := age.Run(final, al, age.Options{Policy: policy, Tables: []string{schemas.TableMemories}}); err != nil {
		t.Fatal(err)
	}
	tb, _ := al.Table(schemas.TableMemories)
	snap, err := tb.Refresh(final)
	if err != nil {
		t.Fatal(err)
	}
	for a := range snap.AllFiles() {
		if p, err := lake.PartitionOf(a.PartitionValues); err != nil || p.Tier != schemas.TierWarm {
			t.Errorf("live file %s in %+v (%v) after the last run, want warm", a.Path, p, err)
		}
	}
	t.Logf("%d age runs moved %d partitions, at most %d tries for one; %d compaction runs compacted %d groups meanwhile",
		runs, moved, maxTries, compactions, compacted)
}
