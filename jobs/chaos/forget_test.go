package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/akosha/akosha/functions/ingest"
	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/jobs/age"
	"github.com/akosha/akosha/jobs/compact"
	"github.com/akosha/akosha/jobs/indexer"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/schemas"
)

// Key states of the forgetting ledger. A key is only ever touched by one
// writer at a time: ingest never re-sends a key while its delete is in
// flight, so the acknowledged order of a key's inserts and deletes is the
// order the lake applied them.
const (
	keyPresent  = iota // last acknowledged: an insert
	keyDeleting        // a delete in flight
	keyDeleted         // last acknowledged: a delete
	keyUnsure          // a write with an unknown outcome: not checked
)

type forgetLedger struct {
	mu    sync.Mutex
	state map[string]int // sys/id -> key state
	recs  map[string]schemas.Memory
}

// stable returns the keys whose state is want now.
func (l *forgetLedger) keys(want int) map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]bool{}
	for k, s := range l.state {
		if s == want {
			out[k] = true
		}
	}
	return out
}

// TestChaosDeleteBesideIngestAndJobs deletes acknowledged records (and
// sends some of them again after their delete) while ingest, two
// compactors, the age job and the index job run, and checks with SQL, during
// the run and at its end, that what SQL shows is exactly the acknowledged
// set: acknowledged inserts minus acknowledged deletes, with records re-sent
// after their delete counted back.
func TestChaosDeleteBesideIngestAndJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos test: not in -short")
	}
	t.Parallel()
	const dur = 10 * time.Second
	s := testenv.S3(t)
	ctx, cancel := context.WithCancel(testenv.Context(t))
	defer cancel()
	a, err := auth.New(auth.Config{Disabled: true})
	if err != nil {
		t.Fatal(err)
	}
	ingestLake := open(t, s)
	in, err := ingest.Open(ingestLake, a, ingest.Config{}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer in.Stop(context.Background())
	checkLake := open(t, s)
	q, err := query.Open(checkLake, a, query.Config{CacheDir: t.TempDir(), SQLTimeout: time.Minute}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Stop(context.Background())

	led := &forgetLedger{state: map[string]int{}, recs: map[string]schemas.Memory{}}
	var wg sync.WaitGroup
	loop := func(name string, every time.Duration, fn func(i int) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				if err := fn(i); err != nil && ctx.Err() == nil {
					t.Errorf("%s: %v", name, err)
				}
				select {
				case <-ctx.Done():
				case <-time.After(every):
				}
			}
		}()
	}
	var mu sync.Mutex
	var inserted, deleted, resent, unsure, deletes, batches int
	var deleteTime, ingestTime time.Duration

	// Ingest: fresh records, and every third batch also re-sends records
	// whose delete was acknowledged.
	loop("ingest", 100*time.Millisecond, func(i int) error {
		recs := gen.Memories(uint64(5000+i), 10, 3, 2)
		for j := range recs {
			recs[j].ID = fmt.Sprintf("f%d-%d", i, j)
			recs[j].Content = recs[j].Content[:60]
			if j%4 != 0 {
				recs[j].Embedding = nil
			}
		}
		back := 0
		if i%3 == 2 {
			led.mu.Lock()
			for k, st := range led.state {
				if st == keyDeleted && back < 3 {
					recs = append(recs, led.recs[k])
					led.state[k] = keyUnsure // until acknowledged
					back++
				}
			}
			led.mu.Unlock()
		}
		began := time.Now()
		_, err := ingestLake.AppendMemories(ctx, recs, delta.Txn{AppID: fmt.Sprintf("forget-chaos-%d", i), Version: 1})
		took := time.Since(began)
		led.mu.Lock()
		defer led.mu.Unlock()
		for _, m := range recs {
			k := m.SystemID + "/" + m.ID
			led.recs[k] = m
			if err != nil {
				led.state[k] = keyUnsure
			} else {
				led.state[k] = keyPresent
			}
		}
		mu.Lock()
		batches++
		ingestTime += took
		if err == nil {
			inserted += len(recs) - back
			resent += back
		} else {
			unsure += len(recs)
		}
		mu.Unlock()
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	})
	// Deletes: a few acknowledged records of one system at a time.
	rng := rand.New(rand.NewPCG(16, 16))
	loop("delete", 120*time.Millisecond, func(i int) error {
		led.mu.Lock()
		var present []string
		for k, st := range led.state {
			if st == keyPresent {
				present = append(present, k)
			}
		}
		slices.Sort(present)
		var sys string
		var ids []string
		for j := 0; j < 8 && len(present) > 0; j++ {
			k := present[rng.IntN(len(present))]
			m := led.recs[k]
			if sys == "" {
				sys = m.SystemID
			}
			if m.SystemID != sys || led.state[k] != keyPresent {
				continue
			}
			led.state[k] = keyDeleting
			ids = append(ids, m.ID)
		}
		led.mu.Unlock()
		if len(ids) == 0 {
			return nil
		}
		began := time.Now()
		resp, err := in.Delete(ctx, ingest.DeleteFilter{Table: schemas.TableMemories, SystemID: sys, IDs: ids}, false, "chaos")
		took := time.Since(began)
		led.mu.Lock()
		defer led.mu.Unlock()
		for _, id := range ids {
			if err != nil {
				led.state[sys+"/"+id] = keyUnsure
			} else {
				led.state[sys+"/"+id] = keyDeleted
			}
		}
		mu.Lock()
		deletes++
		deleteTime += took
		if err == nil {
			deleted += len(ids)
		} else {
			unsure += len(ids)
		}
		mu.Unlock()
		if err == nil && resp.Deleted != int64(len(ids)) {
			return fmt.Errorf("delete of %d acknowledged records removed %d", len(ids), resp.Deleted)
		}
		if ctx.Err() != nil {
			return nil
		}
		return err
	})
	for c := range 2 {
		l := open(t, s)
		loop(fmt.Sprint("compact ", c), 1200*time.Millisecond, func(int) error {
			_, err := compact.Run(ctx, l, compact.Options{Tables: []string{schemas.TableMemories}})
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		})
	}
	al := open(t, s)
	loop("age", 1500*time.Millisecond, func(i int) error {
		policy := age.Policy{WarmAfter: 7, ColdAfter: 90, DeleteAfter: 100000}
		if i%2 == 1 {
			policy.ColdAfter = 8
		}
		_, err := age.Run(ctx, al, age.Options{Policy: policy, Tables: []string{schemas.TableMemories}})
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	})
	il := open(t, s)
	loop("index", time.Second, func(int) error {
		_, err := indexer.Run(ctx, il, indexer.Options{MinVectors: 1, EfConstruction: 32})
		if errors.Is(err, context.Canceled) || errors.Is(err, indexer.ErrPartitionsFailed) && ctx.Err() != nil {
			return nil
		}
		return err
	})

	visible := func(c context.Context) map[string]bool {
		t.Helper()
		res, err := q.Query(c, "SELECT system_id || '/' || id FROM memories", 1_000_000)
		if err != nil {
			t.Fatalf("checker query: %v", err)
		}
		out := map[string]bool{}
		for _, r := range res.Rows {
			out[r[0].(string)] = true
		}
		return out
	}
	// During the run: a key present (or deleted) both before and after the
	// query must be visible (or not).
	// The run lasts dur, and then until it has proved something (a delete
	// acknowledged, and a deleted record re-sent and acknowledged): under
	// a loaded machine one delete's tries can outlast dur. The cap only
	// bounds a run that makes no progress at all.
	proved := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return deleted > 0 && resent > 0
	}
	checks := 0
	deadline, limit := time.Now().Add(dur), time.Now().Add(3*time.Minute)
	running := func() bool {
		return (time.Now().Before(deadline) || !proved()) && time.Now().Before(limit) && !t.Failed()
	}
	for ; running(); checks++ {
		presentBefore, deletedBefore := led.keys(keyPresent), led.keys(keyDeleted)
		got := visible(ctx)
		presentAfter, deletedAfter := led.keys(keyPresent), led.keys(keyDeleted)
		for k := range presentBefore {
			if presentAfter[k] && !got[k] {
				t.Fatalf("check %d: acknowledged record %s is not visible", checks, k)
			}
		}
		for k := range deletedBefore {
			if deletedAfter[k] && got[k] {
				t.Fatalf("check %d: record %s is visible after its acknowledged delete", checks, k)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	ran := time.Since(deadline.Add(-dur))
	cancel()
	wg.Wait()
	if t.Failed() {
		return
	}
	// At the end: exactly the acknowledged set, keys of unknown outcome
	// aside.
	final := testenv.Context(t)
	fl := open(t, s)
	if _, err := compact.Run(final, fl, compact.Options{}); err != nil {
		t.Fatal(err)
	}
	got := visible(final)
	led.mu.Lock()
	defer led.mu.Unlock()
	want, lost, extra := 0, 0, 0
	for k, st := range led.state {
		switch {
		case st == keyPresent:
			want++
			if !got[k] {
				lost++
				t.Errorf("acknowledged record %s is missing", k)
			}
		case st == keyDeleted && got[k]:
			extra++
			t.Errorf("deleted record %s is visible", k)
		}
		delete(got, k)
	}
	if len(got) > 0 {
		t.Errorf("%d visible records were never sent", len(got))
	}
	t.Logf("%s: %d inserted in %d batches (%s each), %d deleted in %d deletes (%s each), %d re-sent after their delete, %d of unknown outcome; %d checks; %d expected at the end, %d lost, %d not forgotten",
		ran.Round(time.Second), inserted, batches, ingestTime/time.Duration(max(batches, 1)), deleted, deletes, deleteTime/time.Duration(max(deletes, 1)),
		resent, unsure, checks, want, lost, extra)
	if deleted == 0 || resent == 0 {
		t.Errorf("the run deleted %d and re-sent %d: it proves little", deleted, resent)
	}
}
