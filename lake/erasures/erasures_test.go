package erasures_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/erasures"
	"github.com/akosha/akosha/lake/storage"
)

// The log is a Delta table other engines can read, rows come back newest
// first, the window and the limit hold, and Visible filters.
func TestAppendAndList(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		ctx := testenv.Context(t)
		l := erasures.New(s)
		if recs, more, err := l.List(ctx, erasures.Query{}); err != nil || len(recs) != 0 || more {
			t.Fatalf("a lake without the log: %v %v %v", recs, more, err)
		}
		base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
		for i := range 5 {
			tenant := "team-a"
			if i%2 == 1 {
				tenant = "team-b"
			}
			_, err := l.Append(ctx, erasures.Record{
				When: base.Add(time.Duration(i) * time.Hour), Who: fmt.Sprintf("key-%d", i), Tenant: tenant,
				Operation: erasures.OpDelete, SystemID: fmt.Sprintf("sys-%d", i),
				Filter:  json.RawMessage(fmt.Sprintf(`{"system_id":"sys-%d","ids":["m-%d"]}`, i, i)),
				Deleted: int64(i + 1), Tables: map[string]erasures.TableCounts{"memories": {Deleted: int64(i + 1), Rows: int64(i + 1), Files: 1, Version: int64(i + 3)}},
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		// A second process reads them from the lake.
		recs, more, err := erasures.New(s).List(ctx, erasures.Query{})
		if err != nil || more || len(recs) != 5 {
			t.Fatalf("list: %d %v %v", len(recs), more, err)
		}
		for i, r := range recs {
			want := 4 - i
			if r.Who != fmt.Sprintf("key-%d", want) || !r.When.Equal(base.Add(time.Duration(want)*time.Hour)) ||
				r.Deleted != int64(want+1) || r.Tables["memories"].Version != int64(want+3) || r.Legacy || !strings.HasPrefix(r.Key, erasures.Prefix) {
				t.Errorf("row %d: %+v", i, r)
			}
			var f map[string]any
			if err := json.Unmarshal(r.Filter, &f); err != nil || f["system_id"] != r.SystemID {
				t.Errorf("row %d filter %s: %v", i, r.Filter, err)
			}
		}
		// Window: since inclusive, until exclusive; limit; more.
		recs, more, err = l.List(ctx, erasures.Query{Since: base.Add(time.Hour), Until: base.Add(4 * time.Hour), Limit: 2})
		if err != nil || !more || len(recs) != 2 || recs[0].Who != "key-3" || recs[1].Who != "key-2" {
			t.Fatalf("window and limit: %+v %v %v", recs, more, err)
		}
		recs, more, err = l.List(ctx, erasures.Query{Until: recs[1].When, Limit: 2})
		if err != nil || more || len(recs) != 2 || recs[0].Who != "key-1" || recs[1].Who != "key-0" {
			t.Fatalf("next page: %+v %v %v", recs, more, err)
		}
		// Visible: team-b's rows only.
		recs, _, err = l.List(ctx, erasures.Query{Visible: func(tenant, _ string) bool { return tenant == "team-b" }})
		if err != nil || len(recs) != 2 || recs[0].Who != "key-3" || recs[1].Who != "key-1" {
			t.Fatalf("team-b: %+v %v", recs, err)
		}
		// The table is a Delta table: one add per row, appends only.
		snap, err := delta.NewTable(s, erasures.Table).Snapshot(ctx)
		if err != nil || snap.NumFiles() != 5 {
			t.Fatalf("the Delta table: %v %v", snap, err)
		}
	})
}

// Records written as JSON objects before the table existed are listed with
// the table's rows, in one order, and the table's objects never pass for
// legacy ones.
func TestLegacyRecordsAreListed(t *testing.T) {
	s := testenv.S3(t)
	ctx := testenv.Context(t)
	put := func(when time.Time, body string) {
		key := erasures.Prefix + when.UTC().Format("20060102T150405.000000000Z") + "-0a0b0c0d0e0f.json"
		if err := s.PutIfAbsent(ctx, key, strings.NewReader(body), int64(len(body))); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)
	// As functions/ingest wrote them, and as jobs/compact did.
	put(t0, `{"who":"old-admin","when":"2026-10-01T08:00:00Z","filter":{"table":"memories","system_id":"sys-a","ids":["m1"]},"deleted":1,"tables":{"memories":{"deleted":1,"rows":2,"files_rewritten":1,"version":7}}}`)
	put(t0.Add(time.Hour), `{"who":"job:compact","when":"2026-10-01T09:00:00Z","filter":{"table":"memories","expired_at_or_before":"2026-10-01T09:00:00Z"},"deleted":3,"tables":{"memories":{"deleted":3,"rows":3,"files_rewritten":2,"version":9}}}`)
	put(t0.Add(2*time.Hour), `not json`)
	l := erasures.New(s)
	if _, err := l.Append(ctx, erasures.Record{When: t0.Add(90 * time.Minute), Who: "new-admin", Operation: erasures.OpDelete,
		SystemID: "sys-b", Tenant: "default", Filter: json.RawMessage(`{"system_id":"sys-b","ids":["x"]}`), Deleted: 1}); err != nil {
		t.Fatal(err)
	}
	recs, more, err := l.List(ctx, erasures.Query{})
	if err != nil || more || len(recs) != 4 {
		t.Fatalf("list: %+v %v %v", recs, more, err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%s/%s/%v/%d", r.Who, r.Operation, r.Legacy, r.Deleted))
	}
	want := []string{"unknown (unreadable record)/delete/true/0", "new-admin/delete/false/1", "job:compact/expire/true/3", "old-admin/delete/true/1"}
	if !slices.Equal(got, want) {
		t.Fatalf("records %v, want %v", got, want)
	}
	if recs[3].SystemID != "sys-a" || recs[3].Tables["memories"].Rows != 2 || !bytes.Contains(recs[3].Filter, []byte(`"ids":["m1"]`)) {
		t.Errorf("legacy delete record: %+v", recs[3])
	}
	// Window and visibility apply to them too.
	recs, more, err = l.List(ctx, erasures.Query{Until: t0.Add(90 * time.Minute), Limit: 1,
		Visible: func(tenant, sys string) bool { return sys != "" }})
	if err != nil || len(recs) != 1 || recs[0].Who != "old-admin" {
		t.Fatalf("legacy, windowed and filtered: %+v %v %v", recs, more, err)
	}
}

// Two processes appending at once: appends never conflict, every row lands
// exactly once, and the first appends race to create the table safely.
func TestConcurrentAppends(t *testing.T) {
	s := testenv.S3(t)
	ctx := testenv.Context(t)
	logs := []*erasures.Log{erasures.New(s), erasures.New(s)}
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := logs[i%2].Append(ctx, erasures.Record{Who: fmt.Sprintf("w%02d", i), Operation: erasures.OpDelete,
				SystemID: "sys", Filter: json.RawMessage(`{"system_id":"sys"}`), Deleted: 1})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	recs, more, err := erasures.New(s).List(ctx, erasures.Query{Limit: 100})
	if err != nil || more || len(recs) != 12 {
		t.Fatalf("list: %d %v %v", len(recs), more, err)
	}
	seen := map[string]bool{}
	for i, r := range recs {
		seen[r.Who] = true
		if i > 0 && r.When.After(recs[i-1].When) {
			t.Errorf("not newest first at %d", i)
		}
	}
	if len(seen) != 12 {
		t.Errorf("%d distinct rows, want 12", len(seen))
	}
}
