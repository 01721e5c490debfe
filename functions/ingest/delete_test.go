package ingest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/functions/ingest"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake/erasures"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

func send(t *testing.T, method, url, key string, body []byte) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(raw, &m)
	if m == nil {
		m = map[string]any{"raw": string(raw)}
	}
	return resp.StatusCode, m
}

// recBase is the created_at of the tests' first record: one instant, so
// that a test's "before" counts do not depend on when a batch was built.
var recBase = time.Now().UTC().Add(-time.Hour).Truncate(time.Second)

func memRecs(sys string, n int, project string) []schemas.Memory {
	base := recBase
	recs := make([]schemas.Memory, n)
	for i := range recs {
		recs[i] = schemas.Memory{SystemID: sys, ID: fmt.Sprintf("m-%d", i), Content: "secret content " + sys,
			CreatedAt: base.Add(time.Duration(i) * time.Second), Project: project, Kind: "memory"}
	}
	return recs
}

// liveRows counts the rows of the memories table's newest snapshot, by
// reading the key columns of its files: what any Delta reader sees.
func liveKeys(t *testing.T, s *server) map[string]int {
	t.Helper()
	tbl, _ := s.lake.Table(schemas.TableMemories)
	snap, err := tbl.Refresh(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]int{}
	for _, a := range snap.Files() {
		var sys, ids []string
		_, _, err := tbl.ReadColumns(ctxT(t), a, []string{"system_id", "id"}, func(c int, v parquet.Value) {
			if c == 0 {
				sys = append(sys, v.String())
			} else {
				ids = append(ids, v.String())
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range ids {
			keys[sys[i]+"/"+ids[i]]++
		}
	}
	return keys
}

func ingestOK(t *testing.T, s *server, key string, recs []schemas.Memory) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"records": recs})
	if st, m := send(t, "POST", s.URL+"/v1/memories", key, b); st != 200 {
		t.Fatalf("ingest: %d %v", st, m)
	}
}

// Who may delete what, and bad input: each refused request is a clear 4xx
// and removes nothing.
func TestDeleteRefusals(t *testing.T) {
	keys := []auth.APIKey{
		{Name: "root", Role: auth.RoleAdmin, Key: "admin-key-0123456789"},
		{Name: "op", Role: auth.RoleOperator, Key: "op-key-0123456789"},
		{Name: "laptop", Role: auth.RoleOperator, Key: "laptop-key-0123456789", SystemIDs: []string{"sys-a"}},
		{Name: "viewer", Role: auth.RoleViewer, Key: "viewer-key-0123456789"},
	}
	s := startOn(t, testenv.S3(t), auth.Config{APIKeys: keys}, ingest.Config{MaxBodyBytes: 1 << 20})
	const admin, op, laptop, viewer = "admin-key-0123456789", "op-key-0123456789", "laptop-key-0123456789", "viewer-key-0123456789"
	ingestOK(t, s, admin, memRecs("sys-a", 5, "p1"))
	ingestOK(t, s, admin, memRecs("sys-b", 5, "p1"))
	before := liveKeys(t, s)
	if len(before) != 10 {
		t.Fatalf("live keys %d, want 10", len(before))
	}
	filter := func(m map[string]any) []byte { b, _ := json.Marshal(m); return b }
	cases := []struct {
		name, method, path, key string
		body                    []byte
		status                  int
	}{
		{"no credential", "DELETE", "/v1/memories/sys-a/m-1", "", nil, 401},
		{"viewer", "DELETE", "/v1/memories/sys-a/m-1", viewer, nil, 403},
		{"viewer filter", "POST", "/v1/delete", viewer, filter(map[string]any{"system_id": "sys-a", "ids": []string{"m-1"}}), 403},
		{"other system", "DELETE", "/v1/memories/sys-b/m-1", laptop, nil, 403},
		{"other system filter", "POST", "/v1/delete", laptop, filter(map[string]any{"system_id": "sys-b", "project": "p1"}), 403},
		{"whole system by operator", "POST", "/v1/delete", op, filter(map[string]any{"system_id": "sys-a", "all_records_of_system": true}), 403},
		{"whole system without the flag", "POST", "/v1/delete", admin, filter(map[string]any{"system_id": "sys-a"}), 422},
		{"empty filter", "POST", "/v1/delete", admin, filter(map[string]any{}), 422},
		{"empty body", "POST", "/v1/delete", admin, nil, 400},
		{"flag with criteria", "POST", "/v1/delete", admin, filter(map[string]any{"system_id": "sys-a", "all_records_of_system": true, "ids": []string{"m-1"}}), 422},
		{"unknown field", "POST", "/v1/delete", admin, filter(map[string]any{"system_id": "sys-a", "ids": []string{"m-1"}, "idz": 1}), 400},
		{"malformed json", "POST", "/v1/delete", admin, []byte(`{"system_id": "sys-a", "ids": [`), 400},
		{"two values", "POST", "/v1/delete", admin, []byte(`{"system_id":"sys-a","ids":["m-1"]} {}`), 400},
		{"path trick id", "POST", "/v1/delete", admin, filter(map[string]any{"system_id": "sys-a", "ids": []string{"../m-1"}}), 422},
		{"slash in id", "POST", "/v1/delete", admin, filter(map[string]any{"system_id": "sys-a", "ids": []string{"x/m-1"}}), 422},
		{"dotdot id in path", "DELETE", "/v1/memories/sys-a/..m-1", admin, nil, 422},
		{"bad system", "POST", "/v1/delete", admin, filter(map[string]any{"system_id": "sys a", "ids": []string{"m-1"}}), 422},
		{"bad kind", "POST", "/v1/delete", admin, filter(map[string]any{"system_id": "sys-a", "kind": "note"}), 422},
		{"bad table", "POST", "/v1/delete", admin, filter(map[string]any{"system_id": "sys-a", "table": "users", "ids": []string{"m-1"}}), 422},
		{"project on entities", "POST", "/v1/delete", admin, filter(map[string]any{"system_id": "sys-a", "table": "entities", "project": "p1"}), 422},
		{"bad before", "POST", "/v1/delete", admin, []byte(`{"system_id":"sys-a","before":"yesterday"}`), 400},
		{"bad dry_run", "DELETE", "/v1/memories/sys-a/m-1?dry_run=maybe", admin, nil, 400},
		{"oversized", "POST", "/v1/delete", admin, filter(map[string]any{"system_id": "sys-a", "ids": []string{strings.Repeat("x", 5<<20)}}), 413},
		{"missing record", "DELETE", "/v1/memories/sys-a/nope", admin, nil, 404},
		{"wrong method", "GET", "/v1/delete", admin, nil, 405},
	}
	for _, c := range cases {
		st, m := send(t, c.method, s.URL+c.path, c.key, c.body)
		if st != c.status {
			t.Errorf("%s: %d %v, want %d", c.name, st, m, c.status)
		} else if st != 405 {
			if e, _ := m["error"].(map[string]any); e == nil || e["message"] == "" {
				t.Errorf("%s: no error message: %v", c.name, m)
			}
		}
	}
	if after := liveKeys(t, s); len(after) != 10 {
		t.Fatalf("refused requests removed records: %d left", len(after))
	}
	if objs, _ := s.lake.Store().List(ctxT(t), ingest.ErasuresPrefix); len(objs) != 0 {
		t.Errorf("refused requests left %d erasure records", len(objs))
	}

	// Allowed: the limited operator in its system; an admin erasing a whole system.
	if st, m := send(t, "DELETE", s.URL+"/v1/memories/sys-a/m-1", laptop, nil); st != 200 || m["deleted"] != 1.0 {
		t.Fatalf("operator delete in its system: %d %v", st, m)
	}
	if st, m := send(t, "POST", s.URL+"/v1/delete", admin, filter(map[string]any{"system_id": "sys-b", "all_records_of_system": true})); st != 200 || m["deleted"] != 5.0 {
		t.Fatalf("admin erases sys-b: %d %v", st, m)
	}
	after := liveKeys(t, s)
	if len(after) != 4 || after["sys-a/m-1"] != 0 || after["sys-a/m-0"] != 1 {
		t.Fatalf("after deletes: %v", after)
	}
	// Each delete left one erasure record: who, the filter, the count, no content.
	recs, more, err := s.lake.Erasures().List(ctxT(t), erasures.Query{})
	if err != nil || len(recs) != 2 || more {
		t.Fatalf("erasure records: %v %v %v", recs, more, err)
	}
	var whos []string
	for _, e := range recs {
		b, _ := storage.ReadAll(ctxT(t), s.lake.Store(), e.Key)
		if bytes.Contains(b, []byte("secret content")) {
			t.Errorf("erasure record holds content: %s", b)
		}
		var f ingest.DeleteFilter
		if err := json.Unmarshal(e.Filter, &f); err != nil || e.When.IsZero() || e.Deleted == 0 || f.SystemID == "" || e.SystemID != f.SystemID {
			t.Errorf("erasure record %+v: %v", e, err)
		}
		whos = append(whos, e.Who)
	}
	if strings.Join(whos, ",") != "root,laptop" {
		t.Errorf("erasure records name %v, want root then laptop (newest first)", whos)
	}
}

// A filter delete: a dry run counts and changes nothing; the real one
// removes exactly what it counted, in one commit; records ingested while it
// runs are all kept.
func TestDeleteByFilterDryRunAndConcurrentIngest(t *testing.T) {
	s := startOn(t, testenv.S3(t), auth.Config{Disabled: true}, ingest.Config{})
	ingestOK(t, s, "", memRecs("sys-a", 30, "gone"))
	keep := memRecs("sys-a", 10, "kept")
	for i := range keep {
		keep[i].ID = fmt.Sprintf("k-%d", i)
	}
	ingestOK(t, s, "", keep)
	ingestOK(t, s, "", memRecs("sys-b", 10, "gone")) // another system, same project
	tbl, _ := s.lake.Table(schemas.TableMemories)
	v0 := tbl.Cached().Version

	body, _ := json.Marshal(map[string]any{"system_id": "sys-a", "project": "gone", "dry_run": true})
	st, m := send(t, "POST", s.URL+"/v1/delete", "", body)
	if st != 200 || m["deleted"] != 30.0 || m["dry_run"] != true {
		t.Fatalf("dry run: %d %v", st, m)
	}
	// before (created_at strictly earlier) and kind narrow it.
	body, _ = json.Marshal(map[string]any{"system_id": "sys-a", "project": "gone", "kind": "memory", "before": recBase.Add(10 * time.Second), "dry_run": true})
	if st, m := send(t, "POST", s.URL+"/v1/delete", "", body); st != 200 || m["deleted"] != 10.0 {
		t.Fatalf("dry run with before: %d %v", st, m)
	}
	body, _ = json.Marshal(map[string]any{"system_id": "sys-a", "kind": "reflection", "dry_run": true})
	if st, m := send(t, "POST", s.URL+"/v1/delete", "", body); st != 200 || m["deleted"] != 0.0 {
		t.Fatalf("dry run of another kind: %d %v", st, m)
	}
	if tbl.Cached().Version != v0 || len(liveKeys(t, s)) != 50 {
		t.Fatalf("a dry run changed the table")
	}

	// The real delete, with ingest of other records running beside it.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var pushed []string
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			recs := memRecs("sys-a", 3, "fresh")
			for j := range recs {
				recs[j].ID = fmt.Sprintf("c-%d-%d", i, j)
			}
			b, _ := json.Marshal(map[string]any{"records": recs})
			req, _ := http.NewRequest("POST", s.URL+"/v1/memories", bytes.NewReader(b))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode == 200 {
				mu.Lock()
				for _, r := range recs {
					pushed = append(pushed, "sys-a/"+r.ID)
				}
				mu.Unlock()
			}
		}
	}()
	body, _ = json.Marshal(map[string]any{"system_id": "sys-a", "project": "gone"})
	st, m = send(t, "POST", s.URL+"/v1/delete", "", body)
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if st != 200 || m["deleted"] != 30.0 || m["dry_run"] != false || m["erasure"] == "" {
		t.Fatalf("delete: %d %v", st, m)
	}
	live := liveKeys(t, s)
	for i := range 30 {
		if live[fmt.Sprintf("sys-a/m-%d", i)] != 0 {
			t.Errorf("sys-a/m-%d survived the delete", i)
		}
		if i < 10 && (live[fmt.Sprintf("sys-b/m-%d", i)] != 1 || live[fmt.Sprintf("sys-a/k-%d", i)] != 1) {
			t.Errorf("record %d of another system or project was lost", i)
		}
	}
	if len(pushed) == 0 {
		t.Fatal("no concurrent ingest landed")
	}
	for _, k := range pushed {
		if live[k] != 1 {
			t.Errorf("concurrent ingest lost %s", k)
		}
	}
	// A re-sent deleted record comes back.
	ingestOK(t, s, "", memRecs("sys-a", 1, "gone"))
	if liveKeys(t, s)["sys-a/m-0"] != 1 {
		t.Error("a record sent again after its delete did not come back")
	}
}

// The MCP tools delete_memory and forget, on the ingest function's /mcp.
func TestDeleteMCPTools(t *testing.T) {
	s := start(t)
	ingestOK(t, s, "", memRecs("sys-a", 6, "p1"))
	call := func(name string, args map[string]any) map[string]any {
		return rpc(t, s.URL+"/mcp", "tools/call", map[string]any{"name": name, "arguments": args})
	}
	if res := call("delete_memory", map[string]any{"system_id": "sys-a", "memory_id": "m-0"}); res["deleted"] != 1.0 || res["isError"] != false {
		t.Fatalf("delete_memory: %v", res)
	}
	if res := call("forget", map[string]any{"system_id": "sys-a", "project": "p1", "dry_run": true}); res["deleted"] != 5.0 || res["dry_run"] != true {
		t.Fatalf("forget dry run: %v", res)
	}
	if res := call("forget", map[string]any{"system_id": "sys-a", "projekt": "p1"}); res["isError"] != true {
		t.Fatalf("forget with an unknown argument: %v", res)
	}
	if res := call("forget", map[string]any{"system_id": "sys-a"}); res["isError"] != true {
		t.Fatalf("forget of a whole system without the flag: %v", res)
	}
	if res := call("forget", map[string]any{"system_id": "sys-a", "ids": []string{"m-1", "m-2"}}); res["deleted"] != 2.0 {
		t.Fatalf("forget by ids: %v", res)
	}
	if n := len(liveKeys(t, s)); n != 3 {
		t.Fatalf("%d records left, want 3", n)
	}
}
