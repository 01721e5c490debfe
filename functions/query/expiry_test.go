package query_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/jobs/compact"
	"github.com/akosha/akosha/jobs/indexer"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// testClock is an injectable clock: tests move it past an expiry instead
// of sleeping until it.
type testClock struct{ skew atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.skew.Load())) }
func (c *testClock) advance(d time.Duration) { c.skew.Add(int64(d)) }

// Expiry (issue 16), against the real S3 server: a record with an expiry
// (expires_at over REST, ttl through Session-Buddy's store_memory) is
// visible, then, once the clock passes it, invisible to SQL (through a
// cached answer too), the lookup, the versions route, GET /v1/systems and
// search through an HNSW index covering its file; a record whose latest
// version expired does not fall back to an older version. An expires_at in
// the past on ingest is refused (422) and stores nothing. The next
// compaction removes every version of the expired records with one
// copy-on-write commit (AKOSHA EXPIRE, dataChange=true) and writes an
// erasure record without content.
func TestExpiryHidesThenCompactionRemoves(t *testing.T) {
	ctx := ctxT(t)
	s := testenv.S3(t)
	clock := &testClock{}
	p := startProcess(t, s, query.Config{Now: clock.Now})
	recs := records(2, 1, 40, 33)
	victim, resent := recs[5], recs[6]
	now := time.Now().UTC().Truncate(time.Microsecond)
	exp := now.Add(time.Hour)
	resentV2 := resent
	resentV2.Content = "second version " + testenv.RandomID()
	resentV2.ExpiresAt = &exp
	victim.ExpiresAt = &exp
	recs[5] = victim
	push(t, p, recs)
	push(t, p, []schemas.Memory{resentV2})
	// Session-Buddy's store_memory path: metadata.ttl.
	sbID := "sb-" + testenv.RandomID()
	st, _, body := do(t, "POST", p.url+"/store_memory", map[string]any{
		"id": sbID, "text": "through sync.py", "metadata": map[string]any{"source": victim.SystemID, "ttl": "30m", "created_at": now.Format(time.RFC3339)},
	}, nil)
	if st != 200 {
		t.Fatalf("store_memory: %d %s", st, body)
	}
	// Past expiry: refused, nothing stored.
	past := recs[7]
	past.ID, past.ExpiresAt = "past-"+testenv.RandomID(), new(time.Time)
	*past.ExpiresAt = now.Add(-time.Minute)
	st, _, body = do(t, "POST", p.url+"/v1/memories", map[string]any{"records": []schemas.Memory{past}}, nil)
	if st != 422 || !bytes.Contains(body, []byte("not in the future")) {
		t.Fatalf("past expires_at: %d %s", st, body)
	}
	if sum, err := indexer.Run(ctx, p.lake, indexer.Options{MinVectors: -1, EfConstruction: 32}); err != nil || sum.Built != 1 {
		t.Fatalf("index: %+v %v", sum, err)
	}
	if err := p.query.RefreshIndexes(ctx); err != nil {
		t.Fatal(err)
	}

	count := "SELECT count(*) FROM memories /* " + testenv.RandomID() + " */"
	one := func(sys, id string) string {
		return fmt.Sprintf("SELECT count(*) FROM memories WHERE system_id = '%s' AND id = '%s'", sys, id)
	}
	found := func() bool {
		t.Helper()
		st, a, body := searchHTTP(t, p, map[string]any{"vector": f64(victim.Embedding), "k": 3,
			"filter": map[string]any{"system_id": []string{victim.SystemID}}})
		if st != 200 {
			t.Fatalf("search: %d %s", st, body)
		}
		for _, r := range a.Results {
			if r.ID == victim.ID {
				return true
			}
		}
		return false
	}
	// BM25 reads the files' text columns itself, so it is checked too.
	foundText := func() bool {
		t.Helper()
		st, a, body := searchHTTP(t, p, map[string]any{"text": victim.Content, "mode": "text", "k": 5,
			"filter": map[string]any{"system_id": []string{victim.SystemID}}})
		if st != 200 {
			t.Fatalf("text search: %d %s", st, body)
		}
		for _, r := range a.Results {
			if r.ID == victim.ID {
				return true
			}
		}
		return false
	}
	systemsTotal := func() float64 {
		t.Helper()
		st, _, body := do(t, "GET", p.url+"/v1/systems", nil, nil)
		if st != 200 {
			t.Fatalf("systems: %d %s", st, body)
		}
		var a struct {
			Systems []struct {
				Total float64 `json:"total"`
			} `json:"systems"`
		}
		json.Unmarshal(body, &a)
		var n float64
		for _, s := range a.Systems {
			n += s.Total
		}
		return n
	}
	// Before: everything shows, the count is cached.
	if a, _ := sqlQuery(t, p, count, 0); a.Rows[0][0].(float64) != 41 {
		t.Fatalf("before: count %v, want 41", a.Rows)
	}
	if _, c := sqlQuery(t, p, count, 0); c != "l1" {
		t.Fatalf("the count is not cached: %s", c)
	}
	if a, _ := sqlQuery(t, p, "SELECT content, expires_at FROM memories WHERE id = '"+resent.ID+"'", 0); len(a.Rows) != 1 ||
		a.Rows[0][0] != resentV2.Content || a.Rows[0][1] != schemas.FormatTime(exp) {
		t.Fatalf("before: re-sent record %v", a.Rows)
	}
	if a, _ := sqlQuery(t, p, "SELECT expires_at > now() + INTERVAL 29 MINUTE FROM memories WHERE id = '"+sbID+"'", 0); len(a.Rows) != 1 || a.Rows[0][0] != true {
		t.Fatalf("store_memory's ttl: %v", a.Rows)
	}
	if !found() {
		t.Fatal("before: search does not find the record")
	}
	if !foundText() {
		t.Fatal("before: text search does not find the record")
	}
	if st, _, _ := do(t, "GET", p.url+"/v1/memories/"+victim.SystemID+"/"+victim.ID, nil, nil); st != 200 {
		t.Fatalf("lookup before: %d", st)
	}
	before := systemsTotal()

	clock.advance(2 * time.Hour) // past every expiry
	if a, c := sqlQuery(t, p, count, 0); a.Rows[0][0].(float64) != 38 {
		t.Errorf("after: count %v (cache %s), want 38", a.Rows, c)
	}
	for _, id := range []string{victim.ID, resent.ID, sbID} {
		if a, _ := sqlQuery(t, p, one(victim.SystemID, id)+" OR id = '"+id+"'", 0); a.Rows[0][0].(float64) != 0 {
			t.Errorf("after: SQL shows %s (an older version, or the expired one)", id)
		}
	}
	if found() {
		t.Error("after: search finds the expired record")
	}
	if foundText() {
		t.Error("after: text search finds the expired record")
	}
	for _, path := range []string{"/v1/memories/" + victim.SystemID + "/" + victim.ID, "/v1/memories/" + resent.SystemID + "/" + resent.ID + "/versions"} {
		if st, _, body := do(t, "GET", p.url+path, nil, nil); st != 404 {
			t.Errorf("after: GET %s: %d %s", path, st, body)
		}
	}
	if got := systemsTotal(); got != before-3 {
		t.Errorf("after: GET /v1/systems counts %v records, want %v", got, before-3)
	}

	// Compaction removes them from the files.
	sum, err := compact.Run(ctx, p.lake, compact.Options{Tables: []string{schemas.TableMemories}, Now: clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	d := sum.Tables[schemas.TableMemories].Dedupe
	// The re-sent record's two versions shared a partition: the merge
	// collapsed them before the pass, which then removed three rows.
	if d.Expired != 3 || d.Superseded != 3 || d.Erasure == "" {
		t.Fatalf("compaction's expiry pass: %+v, want 3 records (3 rows) and an erasure record", d)
	}
	tbl, _ := p.lake.Table(schemas.TableMemories)
	snap, err := tbl.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, a := range snap.Files() {
		if err := tbl.ReadMemories(ctx, a, func(rs []schemas.MemoryRow) {
			for _, r := range rs {
				rows++
				if r.ID == victim.ID || r.ID == resent.ID || r.ID == sbID {
					t.Errorf("compaction left %s in %s", r.ID, a.Path)
				}
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	if rows != 38 {
		t.Errorf("%d rows left, want 38", rows)
	}
	raw, err := storage.ReadAll(ctx, s, fmt.Sprintf("%s/_delta_log/%020d.json", schemas.TableMemories, d.Version))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var a delta.Action
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		switch {
		case a.CommitInfo != nil && a.CommitInfo["operation"] != compact.ExpireOperation:
			t.Errorf("commitInfo %v", a.CommitInfo)
		case a.Remove != nil && !a.Remove.DataChange, a.Add != nil && !a.Add.DataChange:
			t.Error("an expiry commit without dataChange")
		}
	}
	er, err := storage.ReadAll(ctx, s, d.Erasure)
	if err != nil || !bytes.HasPrefix([]byte(d.Erasure), []byte(lake.ErasuresPrefix)) {
		t.Fatalf("erasure record %s: %v", d.Erasure, err)
	}
	for _, secret := range []string{victim.Content, resentV2.Content, resent.Content} {
		if bytes.Contains(er, []byte(secret)) || bytes.Contains(raw, []byte(secret)) {
			t.Error("the erasure record or the commit holds content")
		}
	}
	// Nothing changes for the readers.
	if a, _ := sqlQuery(t, p, count, 0); a.Rows[0][0].(float64) != 38 {
		t.Errorf("after compaction: count %v, want 38", a.Rows)
	}
}
