package delta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/akosha/akosha/lake/storage"
)

// TestCreateCommitReplay writes a few versions and reads them back: the
// snapshot a commit returns, a fresh load and time travel must agree.
func TestCreateCommitReplay(t *testing.T) {
	ctx := context.Background()
	tbl, s0 := newLocalTable(t)
	if s0.Version != 0 || s0.Protocol.MinReaderVersion != 1 || s0.Protocol.MinWriterVersion != 2 {
		t.Fatalf("created %d with protocol %+v", s0.Version, s0.Protocol)
	}
	if s0.Metadata.ID == "" || s0.Metadata.Format.Provider != "parquet" || s0.Metadata.CreatedTime == 0 {
		t.Fatalf("metadata not filled in: %+v", s0.Metadata)
	}
	if _, err := tbl.Create(ctx, testMeta(t)); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("second Create: %v, want ErrExists", err)
	}

	a := testAdd("a", "hot", day("2026-11-25"), 3)
	b := testAdd("b", "hot", nil, 4) // null partition value
	r1 := mustCommit(t, tbl, s0, addActions(a, b))
	c := testAdd("c", "warm", day("2026-11-24"), 5)
	r2 := mustCommit(t, tbl, r1.Snapshot, append(addActions(c), Action{Remove: ptr(a.RemoveAt(1_700_000_000_123))}))

	if r2.Version != 2 || r2.Attempts != 1 {
		t.Fatalf("result %+v", r2)
	}
	fresh, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	assertSameState(t, "fresh vs commit result", fresh, r2.Snapshot)
	if got := paths(fresh); len(got) != 2 || got[0] != b.Path || got[1] != c.Path {
		t.Fatalf("files %v", got)
	}
	if tomb := fresh.Tombstones(); len(tomb) != 1 || tomb[0].Path != a.Path || tomb[0].DeletionTimestamp != 1_700_000_000_123 {
		t.Fatalf("tombstones %+v", tomb)
	}
	if got, ok := fresh.File(b.Path); !ok || got.PartitionValues["day"] != nil || *got.PartitionValues["tier"] != "hot" {
		t.Fatalf("null partition value lost: %+v", got)
	}
	v1, err := tbl.SnapshotAt(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	assertSameState(t, "time travel to 1", v1, r1.Snapshot)
	if _, err := tbl.SnapshotAt(ctx, 3); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("SnapshotAt(3): %v, want ErrNotExist", err)
	}

	// The commit file: commitInfo first, one action per line, Delta names.
	acts, err := tbl.ReadCommit(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 3 || acts[0].CommitInfo == nil || acts[1].Add == nil || acts[2].Remove == nil {
		t.Fatalf("commit 2 = %+v", acts)
	}
	for _, k := range []string{"timestamp", "operation", "readVersion", "txnId", "engineInfo"} {
		if _, ok := acts[0].CommitInfo[k]; !ok {
			t.Errorf("commitInfo has no %s: %v", k, acts[0].CommitInfo)
		}
	}
	raw, err := storage.ReadAll(ctx, tbl.store, "memories/_delta_log/00000000000000000001.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(`"partitionValues":{"day":null,"tier":"hot"}`)) {
		t.Errorf("null partition value not written as JSON null:\n%s", raw)
	}
	if n := bytes.Count(raw, []byte("\n")); n != 3 {
		t.Errorf("commit 1 has %d lines, want 3:\n%s", n, raw)
	}
}

func TestCommitValidation(t *testing.T) {
	tbl, s0 := newLocalTable(t)
	ok := testAdd("ok", "hot", day("2026-11-25"), 1)
	noPart := ok
	noPart.Path, noPart.PartitionValues = "x.parquet", map[string]*string{"tier": day("hot")}
	for _, tc := range []struct {
		name    string
		actions []Action
		want    string
	}{
		{"two kinds in one action", []Action{{Add: &ok, Txn: &Txn{AppID: "x"}}}, "exactly one"},
		{"add without path", []Action{{Add: &Add{PartitionValues: ok.PartitionValues}}}, "without path"},
		{"missing partition value", []Action{{Add: &noPart}}, "partition"},
		{"same file twice", addActions(ok, ok), "twice"},
		{"txn twice", []Action{{Txn: &Txn{AppID: "a"}}, {Txn: &Txn{AppID: "a"}}}, "twice"},
		{"remove of a file not in the table", []Action{{Remove: &Remove{Path: "nope", DataChange: true}}}, "not a live file"},
		{"protocol upgrade beyond writer 2", []Action{{Protocol: &Protocol{MinReaderVersion: 1, MinWriterVersion: 3}}}, "writer version 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tbl.Commit(context.Background(), s0, tc.actions)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if s, err := tbl.Snapshot(context.Background()); err != nil || s.Version != 0 {
		t.Fatalf("a refused commit wrote something: %v %v", s, err)
	}
}

// TestTxnCommitted: a txn appId is an idempotency key. Committing it again,
// from a base that has it or racing a winner that has it, returns
// ErrTxnCommitted naming the first commit and writes nothing.
func TestTxnCommitted(t *testing.T) {
	ctx := context.Background()
	tbl, s0 := newLocalTable(t)
	req := func(id string, name string) []Action {
		return append([]Action{{Txn: &Txn{AppID: id, Version: 1, LastUpdated: 1_700_000_000_000}}},
			addActions(testAdd(name, "hot", day("2026-11-25"), 1))...)
	}
	r1 := mustCommit(t, tbl, s0, req("req-1", "first"))
	tx, ok := r1.Snapshot.Txn("req-1")
	if !ok || tx.Version != 1 || tx.CommitVersion != 1 {
		t.Fatalf("txn after commit: %+v %v", tx, ok)
	}

	var te *TxnCommittedError
	// Retried with a base that already has it.
	_, err := tbl.Commit(ctx, r1.Snapshot, req("req-1", "retry"))
	if !errors.Is(err, ErrTxnCommitted) || !errors.As(err, &te) || te.Txn.CommitVersion != 1 {
		t.Fatalf("retry from new base: %v", err)
	}
	// Retried from the old base (another pod): the winner holds it.
	_, err = tbl.Commit(ctx, s0, req("req-1", "other-pod"))
	if !errors.Is(err, ErrTxnCommitted) || !errors.As(err, &te) || te.Txn.CommitVersion != 1 || te.Txn.AppID != "req-1" {
		t.Fatalf("retry from old base: %v", err)
	}
	// A different key from the old base goes through after the winner.
	r2 := mustCommit(t, tbl, s0, req("req-2", "second"))
	if r2.Version != 2 || r2.Attempts != 2 {
		t.Fatalf("second request: %+v", r2)
	}
	if _, ok := r2.Snapshot.Txn("req-1"); !ok {
		t.Fatal("result snapshot lost the winner's txn")
	}
	s, _ := tbl.Snapshot(ctx)
	if s.Version != 2 || s.NumFiles() != 2 {
		t.Fatalf("table at %d with %d files, want 2 and 2", s.Version, s.NumFiles())
	}
	// Txns survive a checkpoint (with an unknown commit version).
	if err := tbl.Checkpoint(ctx, s); err != nil {
		t.Fatal(err)
	}
	s, err = tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tx, ok := s.Txn("req-2"); !ok || tx.Version != 1 || tx.LastUpdated != 1_700_000_000_000 || tx.CommitVersion != -1 {
		t.Fatalf("txn from checkpoint: %+v %v", tx, ok)
	}
	_, err = tbl.Commit(ctx, s, req("req-2", "late"))
	if !errors.As(err, &te) || te.Txn.CommitVersion != -1 {
		t.Fatalf("retry after checkpoint: %v", err)
	}
}

// TestConflicts: a compaction whose input a concurrent winner removed must
// abort; appends that race just move to the next version.
func TestConflicts(t *testing.T) {
	ctx := context.Background()
	tbl, s0 := newLocalTable(t)
	in1, in2 := testAdd("in1", "hot", day("2026-11-25"), 1), testAdd("in2", "hot", day("2026-11-25"), 1)
	base := mustCommit(t, tbl, s0, addActions(in1, in2)).Snapshot

	compact := func(name string, inputs ...Add) []Action {
		acts := addActions(testAdd(name, "hot", day("2026-11-25"), 2))
		for _, in := range inputs {
			acts = append(acts, Action{Remove: ptr(in.RemoveAt(1))})
		}
		return acts
	}
	// The winner (e.g. the age job) removes in1.
	mustCommit(t, tbl, base, compact("aged", in1))
	// A compaction of in1+in2 from the same base must abort.
	_, err := tbl.Commit(ctx, base, compact("compacted", in1, in2))
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("compaction over a removed input: %v, want ErrConflict", err)
	}
	// An append racing the same winner lands after it.
	r := mustCommit(t, tbl, base, addActions(testAdd("append", "hot", day("2026-11-25"), 1)))
	if r.Version != 3 || r.Attempts != 2 || r.Snapshot.NumFiles() != 3 {
		t.Fatalf("append after winner: version %d attempts %d files %v", r.Version, r.Attempts, paths(r.Snapshot))
	}
	assertLatest(t, tbl, r.Snapshot)

	// A winner that changes the metadata conflicts with everything.
	m := r.Snapshot.Metadata
	m.Configuration = map[string]string{"delta.checkpointInterval": "50"}
	mustCommit(t, tbl, r.Snapshot, []Action{{MetaData: &m}})
	if _, err := tbl.Commit(ctx, r.Snapshot, addActions(testAdd("late", "hot", day("2026-11-25"), 1))); !errors.Is(err, ErrConflict) {
		t.Fatalf("commit over a metadata change: %v, want ErrConflict", err)
	}
}

func assertLatest(t *testing.T, tbl *Table, want *Snapshot) {
	t.Helper()
	got, err := tbl.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	assertSameState(t, "latest", got, want)
}

// TestConcurrentAppends: 16 writers append at once, each from its own
// (mostly stale) snapshot. Every commit lands exactly once, versions are
// dense and every file is visible once.
func TestConcurrentAppends(t *testing.T) {
	ctx := context.Background()
	tbl, s0 := newLocalTable(t)
	const writers, perWriter = 16, 4
	var wg sync.WaitGroup
	versions := make(chan int64, writers*perWriter)
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			base := s0
			for i := range perWriter {
				a := testAdd(fmt.Sprintf("w%02d-%d", w, i), "hot", day("2026-11-25"), 1)
				r, err := tbl.Commit(ctx, base, addActions(a))
				if err != nil {
					errs <- err
					return
				}
				versions <- r.Version
				if _, ok := r.Snapshot.File(a.Path); !ok {
					errs <- fmt.Errorf("result of %d misses its own file", r.Version)
					return
				}
				base = r.Snapshot
			}
		}()
	}
	wg.Wait()
	close(versions)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for v := range versions {
		if seen[v] {
			t.Fatalf("version %d returned twice", v)
		}
		seen[v] = true
	}
	const n = writers * perWriter
	for v := int64(1); v <= n; v++ {
		if !seen[v] {
			t.Fatalf("version %d missing from the results", v)
		}
	}
	s, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != n || s.NumFiles() != n {
		t.Fatalf("latest %d with %d files, want %d and %d", s.Version, s.NumFiles(), n, n)
	}
	l, err := tbl.list(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if gap := l.missingCommit(0, n); gap >= 0 || l.latest != n {
		t.Fatalf("log not dense: gap at %d, latest %d", gap, l.latest)
	}
	// Each file appears in exactly one commit.
	count := map[string]int{}
	for v := int64(1); v <= n; v++ {
		acts, err := tbl.ReadCommit(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range acts {
			if a.Add != nil {
				count[a.Add.Path]++
			}
		}
	}
	for p, c := range count {
		if c != 1 {
			t.Errorf("%s committed %d times", p, c)
		}
	}
	if len(count) != n {
		t.Errorf("%d files committed, want %d", len(count), n)
	}
}

// TestCommitToCopiedTables: writer-version gates on real tables (copies:
// the shared data is never written).
func TestCommitToCopiedTables(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		table    string
		writable bool
	}{
		{"http_requests", true},      // writer 1
		{"concurrent_workers", true}, // writer 1, no files
		{"simple_table", true},
		{"simple_table_with_cdc", false}, // writer 4
		{"cdf-table", false},
		{"issue-2152", false},    // writer 6
		{"cdc_ict_table", false}, // writer 7 + writerFeatures
	} {
		t.Run(tc.table, func(t *testing.T) {
			tbl := copyTable(t, tc.table)
			s, err := tbl.Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var acts []Action
			if len(s.Metadata.PartitionColumns) == 0 {
				acts = addActions(Add{Path: "new.parquet", Size: 1, DataChange: true})
			} else {
				pv := map[string]*string{}
				for _, c := range s.Metadata.PartitionColumns {
					pv[c] = day("2026-01-01")
				}
				acts = addActions(Add{Path: "new.parquet", PartitionValues: pv, Size: 1, DataChange: true})
			}
			r, err := tbl.Commit(ctx, s, acts)
			cerr := tbl.Checkpoint(ctx, s)
			if !tc.writable {
				if !errors.Is(err, ErrUnsupported) || !errors.Is(cerr, ErrUnsupported) {
					t.Fatalf("commit: %v; checkpoint: %v; want ErrUnsupported for writer %d", err, cerr, s.Protocol.MinWriterVersion)
				}
				if after, _ := tbl.Snapshot(ctx); after.Version != s.Version {
					t.Fatal("refused commit changed the table")
				}
				return
			}
			if err != nil || cerr != nil {
				t.Fatalf("commit: %v; checkpoint: %v", err, cerr)
			}
			// Compare files only: the checkpoint (rightly) dropped the
			// fixtures' years-old tombstones.
			after, err := tbl.Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if after.Version != s.Version+1 || !slices.Equal(paths(after), paths(r.Snapshot)) {
				t.Fatalf("after commit: version %d files %v, want %d %v", after.Version, paths(after), s.Version+1, paths(r.Snapshot))
			}
		})
	}
}

// TestUnknownOutcome: a write that times out is settled by reading the
// version back, so a commit is never reported lost when it landed.
func TestUnknownOutcome(t *testing.T) {
	ctx := context.Background()
	timeout := errors.New("i/o timeout")
	for _, tc := range []struct {
		name         string
		landed       bool // the timed-out write reached the store
		readFails    bool
		wantAttempts int
		wantErr      error
	}{
		{"landed: read back finds our bytes", true, false, 1, nil},
		{"not landed: retried at the same version", false, false, 2, nil},
		{"landed but read back fails", true, true, 0, ErrUnknownOutcome},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newMemStore()
			tbl, s0 := createTable(t, st)
			failed := false
			st.onPutIfAbsent = func(key string) (bool, error) {
				if failed || !strings.HasSuffix(key, "1.json") {
					return false, nil
				}
				failed = true
				return tc.landed, timeout
			}
			if tc.readFails {
				st.onGet = func(key string) error { return timeout }
			}
			r, err := tbl.Commit(ctx, s0, addActions(testAdd("a", "hot", day("2026-11-25"), 1)))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Version != 1 || r.Attempts != tc.wantAttempts {
				t.Fatalf("version %d attempts %d, want 1 and %d", r.Version, r.Attempts, tc.wantAttempts)
			}
			st.onGet = nil
			assertLatest(t, tbl, r.Snapshot)
		})
	}
}

// TestCommitJSONRoundTrip checks the encoder and ParseCommit agree on every
// action type.
func TestCommitJSONRoundTrip(t *testing.T) {
	m := normalizeMetadata(testMeta(t))
	m.ID = "id"
	a := testAdd("a", "hot", nil, 3)
	r := a.RemoveAt(5)
	in := []Action{
		{CommitInfo: map[string]any{"operation": "WRITE"}},
		{Protocol: &Protocol{MinReaderVersion: 1, MinWriterVersion: 2}},
		{MetaData: &m},
		{Txn: &Txn{AppID: "app", Version: 7, LastUpdated: 9}},
		{Add: &a},
		{Remove: &r},
	}
	data, err := encodeCommit(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ParseCommit(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range out {
		if out[i].Txn != nil {
			out[i].Txn.CommitVersion = 0
		}
	}
	got, _ := json.Marshal(out)
	want, _ := json.Marshal(in)
	if !bytes.Equal(got, want) {
		t.Fatalf("round trip:\n got %s\nwant %s", got, want)
	}
	if !bytes.Contains(data, []byte(`"extendedFileMetadata":true,"tags":{"writer":"test"},"partitionValues":{"day":null,"tier":"hot"},"size":1003}}`)) {
		t.Errorf("remove encoding:\n%s", data)
	}
}
