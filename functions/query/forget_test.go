package query_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/akosha/akosha/functions/ingest"
	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/jobs/indexer"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// Read-your-writes for deletes (issue 16): right after DELETE answers, SQL,
// the record lookup and vector search (through an HNSW index covering the
// deleted row's file) no longer show the record, in the deleting process
// and in another one sharing the Redis result cache; cached answers from
// before the delete are unreachable (they are keyed by snapshot version).
// The commit is a copy-on-write remove + add with dataChange=true and the
// AKOSHA DELETE operation, and holds no content.
func TestDeleteIsReadYourWrites(t *testing.T) {
	ctx := ctxT(t)
	s := testenv.S3(t)
	redisURL := testenv.RedisURL(t)
	p1 := startProcess(t, s, query.Config{RedisURL: redisURL})
	p2 := startProcess(t, s, query.Config{RedisURL: redisURL})
	recs := records(2, 1, 60, 21)
	push(t, p1, recs)
	if sum, err := indexer.Run(ctx, p1.lake, indexer.Options{MinVectors: -1, EfConstruction: 32}); err != nil || sum.Built != 1 {
		t.Fatalf("index: %+v %v", sum, err)
	}
	if err := p1.query.RefreshIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	victim := recs[7]
	waitVersion(t, p2, p1)

	stmt := "SELECT count(*) FROM memories /* " + testenv.RandomID() + " */"
	byID := fmt.Sprintf("SELECT count(*) FROM memories WHERE system_id = '%s' AND id = '%s'", victim.SystemID, victim.ID)
	search := map[string]any{"vector": f64(victim.Embedding), "k": 5, "filter": map[string]any{"system_id": []string{victim.SystemID}}}
	found := func(p *process) bool {
		t.Helper()
		st, a, body := searchHTTP(t, p, search)
		if st != 200 {
			t.Fatalf("search: %d %s", st, body)
		}
		for _, r := range a.Results {
			if r.SystemID == victim.SystemID && r.ID == victim.ID {
				return true
			}
		}
		return false
	}
	// Before: every path shows the victim, and the answers are cached.
	for _, p := range []*process{p1, p2} {
		if a, _ := sqlQuery(t, p, stmt, 0); a.Rows[0][0].(float64) != 60 {
			t.Fatalf("before: %v rows", a.Rows)
		}
		if a, _ := sqlQuery(t, p, byID, 0); a.Rows[0][0].(float64) != 1 {
			t.Fatalf("before: victim rows %v", a.Rows)
		}
		if !found(p) {
			t.Fatal("before: search does not find the victim")
		}
	}
	if _, c := sqlQuery(t, p2, stmt, 0); c != "l1" {
		t.Fatalf("the count is not cached: %s", c)
	}
	if st, _, _ := do(t, "GET", p1.url+"/v1/memories/"+victim.SystemID+"/"+victim.ID, nil, nil); st != 200 {
		t.Fatalf("lookup before: %d", st)
	}

	st, _, body := do(t, "DELETE", p1.url+"/v1/memories/"+victim.SystemID+"/"+victim.ID, nil, nil)
	var resp ingest.DeleteResponse
	json.Unmarshal(body, &resp)
	if st != 200 || resp.Deleted != 1 || resp.Tables[schemas.TableMemories].Version == 0 {
		t.Fatalf("delete: %d %s", st, body)
	}
	version := resp.Tables[schemas.TableMemories].Version

	check := func(who string, p *process) {
		t.Helper()
		a, cache := sqlQuery(t, p, stmt, 0)
		if a.Rows[0][0].(float64) != 59 || a.Version < version {
			t.Errorf("%s: count %v at version %d (cache %s), want 59 at >= %d", who, a.Rows[0][0], a.Version, cache, version)
		}
		if a, _ := sqlQuery(t, p, byID, 0); a.Rows[0][0].(float64) != 0 {
			t.Errorf("%s: SQL still shows the deleted record", who)
		}
		if st, _, _ := do(t, "GET", p.url+"/v1/memories/"+victim.SystemID+"/"+victim.ID, nil, nil); st != 404 {
			t.Errorf("%s: lookup of the deleted record: %d", who, st)
		}
		other := recs[8]
		if st, _, _ := do(t, "GET", p.url+"/v1/memories/"+other.SystemID+"/"+other.ID, nil, nil); st != 200 {
			t.Errorf("%s: lookup of a kept record: %d", who, st)
		}
		if found(p) {
			t.Errorf("%s: search still finds the deleted record", who)
		}
	}
	check("deleting process", p1) // at once, no wait
	waitVersion(t, p2, p1)
	check("other process", p2)

	// The commit: commitInfo AKOSHA DELETE with the predicate, removes and
	// adds with dataChange=true, and nothing of the content.
	key := fmt.Sprintf("%s/_delta_log/%020d.json", schemas.TableMemories, version)
	raw, err := storage.ReadAll(ctx, s, key)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(victim.Content)) {
		t.Error("the delete's commit holds the record's content")
	}
	var removes, adds int
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var a delta.Action
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		switch {
		case a.CommitInfo != nil:
			params, _ := a.CommitInfo["operationParameters"].(map[string]any)
			if a.CommitInfo["operation"] != ingest.DeleteOperation || params == nil ||
				params["predicate"] != fmt.Sprintf("system_id = '%s' AND id IN ('%s')", victim.SystemID, victim.ID) {
				t.Errorf("commitInfo %v", a.CommitInfo)
			}
		case a.Remove != nil:
			removes++
			if !a.Remove.DataChange {
				t.Error("remove without dataChange")
			}
		case a.Add != nil:
			adds++
			if !a.Add.DataChange {
				t.Error("add without dataChange")
			}
		}
	}
	if removes != 1 || adds != 1 {
		t.Errorf("%d removes, %d adds; want 1 and 1 (one file rewritten)", removes, adds)
	}

	// Sent again after the delete, the record comes back.
	push(t, p1, []schemas.Memory{victim})
	if a, _ := sqlQuery(t, p1, byID, 0); a.Rows[0][0].(float64) != 1 {
		t.Error("a record sent again after its delete is not visible")
	}
}
