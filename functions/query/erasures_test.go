package query_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/akosha/akosha/functions/ingest"
	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/erasures"
	"github.com/akosha/akosha/lake/storage"
)

// Keys of the erasure log's tests beside the tenants' (tenants_test.go).
const (
	keyViewer   = "viewer-key-0123456789"
	keyDefAdmin = "default-admin-key-0123456789"
)

func startErasures(t *testing.T) *tenantProcess {
	t.Helper()
	keys, err := auth.ParseAPIKeys("a:operator:" + keyA + "::team-a," +
		"b:operator:" + keyB + "::team-b," +
		"def:operator:" + keyDef + "," +
		"viewer:viewer:" + keyViewer + "," +
		"root:admin:" + keyDefAdmin + "," +
		"ops:admin:" + keyOps + "::*")
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(auth.Config{APIKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	l, err := lake.Open(ctxT(t), testenv.S3(t))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	in, err := ingest.Open(l, a, ingest.Config{}, reg)
	if err != nil {
		t.Fatal(err)
	}
	q, err := query.Open(l, a, query.Config{CacheDir: t.TempDir()}, reg)
	if err != nil {
		t.Fatal(err)
	}
	is, qs := httptest.NewServer(http.HandlerFunc(in.Handle)), httptest.NewServer(http.HandlerFunc(q.Handle))
	t.Cleanup(func() {
		is.Close()
		qs.Close()
		in.Stop(context.Background())
		q.Stop(context.Background())
	})
	return &tenantProcess{ingest: is.URL, query: qs.URL, lake: l}
}

// listErasures calls GET /v1/erasures as key.
func listErasures(t *testing.T, p *tenantProcess, key string, v url.Values) (int, query.ErasuresResponse, string) {
	t.Helper()
	u := p.query + "/v1/erasures"
	if len(v) > 0 {
		u += "?" + v.Encode()
	}
	st, _, body := do(t, "GET", u, nil, bearer(key))
	var r query.ErasuresResponse
	if st == 200 {
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
	}
	return st, r, string(body)
}

func whoOf(recs []erasures.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Who+":"+r.SystemID)
	}
	return out
}

// Each delete that removed something writes exactly one row (who, when,
// tenant, filter, counts; no content); a dry run and a delete of nothing
// write none. GET /v1/erasures shows them newest first to operators of
// their tenant and to admins, refuses viewers, pages with until and limit,
// refuses bad parameters, and shows the JSON records older versions wrote.
func TestErasuresLogAndRoute(t *testing.T) {
	p := startErasures(t)
	ctx := ctxT(t)
	now := time.Now().UTC().Truncate(time.Second)
	secret := "erase-me-" + testenv.RandomID()
	write := func(key, sys string) {
		t.Helper()
		var recs []map[string]any
		for i := range 3 {
			recs = append(recs, map[string]any{"id": fmt.Sprintf("m%d", i), "content": secret + " of " + sys, "project": "p",
				"created_at": now.Add(-time.Duration(i+1) * time.Hour).Format(time.RFC3339), "embedding": tenantVec()})
		}
		if st, _, body := do(t, "POST", p.ingest+"/v1/memories", map[string]any{"system_id": sys, "records": recs}, bearer(key)); st != 200 {
			t.Fatalf("ingest %s: %d %s", sys, st, body)
		}
	}
	write(keyA, "a1")
	write(keyB, "b1")
	write(keyDef, "d1")
	// A record as the previous version wrote it (a JSON object), for a1.
	legacyAt := now.Add(-48 * time.Hour)
	legacy := `{"who":"old-admin","when":"` + legacyAt.Format(time.RFC3339) + `","filter":{"table":"memories","system_id":"a1","ids":["gone"]},"deleted":1,"tables":{"memories":{"deleted":1,"rows":1,"files_rewritten":1,"version":1}}}`
	key := erasures.Prefix + legacyAt.Format("20060102T150405.000000000Z") + "-000000000000.json"
	if err := p.lake.Store().PutIfAbsent(ctx, key, strings.NewReader(legacy), int64(len(legacy))); err != nil {
		t.Fatal(err)
	}

	del := func(key, body string, wantDeleted float64) map[string]any {
		t.Helper()
		var req map[string]any
		_ = json.Unmarshal([]byte(body), &req)
		st, _, b := do(t, "POST", p.ingest+"/v1/delete", req, bearer(key))
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		if st != 200 || m["deleted"] != wantDeleted || m["warning"] != nil {
			t.Fatalf("delete %s: %d %s, want %v deleted", body, st, b, wantDeleted)
		}
		return m
	}
	rowsNow := func() int {
		snap, err := delta.NewTable(p.lake.Store(), erasures.Table).Snapshot(ctx)
		if err != nil {
			return 0
		}
		return snap.NumFiles()
	}
	// A dry run and a delete of nothing write no row (nor the table).
	del(keyA, `{"system_id":"a1","ids":["m0"],"dry_run":true}`, 1)
	del(keyA, `{"system_id":"a1","ids":["no-such-record"]}`, 0)
	if n := rowsNow(); n != 0 {
		t.Fatalf("a dry run or a delete of nothing wrote %d rows", n)
	}
	// Each real delete writes exactly one row, named in the answer.
	m := del(keyA, `{"system_id":"a1","ids":["m0","m1"]}`, 2)
	if n := rowsNow(); n != 1 || !strings.HasPrefix(fmt.Sprint(m["erasure"]), erasures.Prefix) {
		t.Fatalf("after one delete: %d rows, answer %v", n, m)
	}
	time.Sleep(2 * time.Millisecond)
	del(keyB, `{"system_id":"b1","project":"p","before":"`+now.Format(time.RFC3339)+`"}`, 3)
	time.Sleep(2 * time.Millisecond)
	del(keyDefAdmin, `{"system_id":"d1","ids":["m2"]}`, 1)
	if n := rowsNow(); n != 3 {
		t.Fatalf("after three deletes: %d rows", n)
	}
	// No row holds content, in any object of the log.
	objs, err := p.lake.Store().List(ctx, erasures.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		b, err := storage.ReadAll(ctx, p.lake.Store(), o.Key)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), secret) || (strings.HasSuffix(o.Key, ".parquet") && parquetHolds(t, o.Key, b, secret, [][]float32{tenantVec()})) {
			t.Errorf("%s holds deleted content", o.Key)
		}
	}

	// Who sees what: newest first.
	cases := []struct {
		key  string
		want []string
	}{
		{keyOps, []string{"root:d1", "b:b1", "a:a1", "old-admin:a1"}},
		{keyA, []string{"a:a1", "old-admin:a1"}},
		{keyB, []string{"b:b1"}},
		{keyDef, []string{"root:d1"}},
		{keyDefAdmin, []string{"root:d1"}},
	}
	for _, c := range cases {
		st, r, body := listErasures(t, p, c.key, nil)
		if st != 200 || !slices.Equal(whoOf(r.Erasures), c.want) || r.Truncated {
			t.Errorf("%s sees %d %v (%s), want %v", c.key, st, whoOf(r.Erasures), body, c.want)
		}
	}
	_, all, _ := listErasures(t, p, keyOps, nil)
	a1 := all.Erasures[2]
	var f ingest.DeleteFilter
	if err := json.Unmarshal(a1.Filter, &f); err != nil || f.SystemID != "a1" || !slices.Equal(f.IDs, []string{"m0", "m1"}) ||
		a1.Tenant != "team-a" || a1.Deleted != 2 || a1.Tables["memories"].Rows != 2 || a1.Tables["memories"].Version == 0 || a1.When.IsZero() || a1.Operation != erasures.OpDelete {
		t.Errorf("a1's row: %+v (%v)", a1, err)
	}
	if old := all.Erasures[3]; !old.Legacy || !old.When.Equal(legacyAt) || old.Deleted != 1 {
		t.Errorf("the legacy record: %+v", old)
	}

	// Viewers are refused, in the contract's shape.
	st, _, body := listErasures(t, p, keyViewer, nil)
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if st != 403 || json.Unmarshal([]byte(body), &e) != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Errorf("viewer: %d %s, want a 403 error", st, body)
	}
	if st, _, _ := do(t, "GET", p.query+"/v1/erasures", nil, nil); st != 401 {
		t.Errorf("no credential: %d, want 401", st)
	}

	// Paging: limit and until (exclusive) walk every row once, in order.
	var paged []string
	v := url.Values{"limit": {"1"}}
	for range 10 {
		st, r, body := listErasures(t, p, keyOps, v)
		if st != 200 || len(r.Erasures) > 1 {
			t.Fatalf("page: %d %s", st, body)
		}
		paged = append(paged, whoOf(r.Erasures)...)
		if !r.Truncated {
			break
		}
		v.Set("until", r.Erasures[0].When.Format(time.RFC3339Nano))
	}
	if !slices.Equal(paged, cases[0].want) {
		t.Errorf("pages %v, want %v", paged, cases[0].want)
	}
	// since is inclusive.
	if st, r, _ := listErasures(t, p, keyOps, url.Values{"since": {all.Erasures[1].When.Format(time.RFC3339Nano)}}); st != 200 || len(r.Erasures) != 2 {
		t.Errorf("since: %d %v", st, whoOf(r.Erasures))
	}

	// Bad input: a clear 400, nothing changes.
	for _, q := range []string{"since=yesterday", "until=2026-13-01T00:00:00Z", "limit=0", "limit=1001", "limit=ten",
		"colour=red", "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "limit=1&limit=2"} {
		st, _, body := do(t, "GET", p.query+"/v1/erasures?"+q, nil, bearer(keyOps))
		if st != 400 || json.Unmarshal(body, &e) != nil || e.Error.Message == "" {
			t.Errorf("?%s: %d %s, want a 400 error", q, st, body)
		}
	}
	if n := rowsNow(); n != 3 {
		t.Errorf("after refused requests: %d rows, want 3", n)
	}
}
