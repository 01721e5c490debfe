package query_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/jobmetrics"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/jobs/indexer"
)

// A re-sent record shows both stored versions, newest first, while SQL and
// the record lookup answer the newest only.
func TestRecordVersions(t *testing.T) {
	p := startProcess(t, testenv.Local(t), query.Config{})
	recs := records(2, 2, 20, 7)
	push(t, p, recs)
	again := recs[4]
	again.Content = "the second version"
	push(t, p, recs[4:5:5])
	push(t, p, append(recs[4:4:4], again))

	path := p.url + "/v1/memories/" + again.SystemID + "/" + again.ID
	st, _, body := do(t, "GET", path+"/versions", nil, nil)
	var out struct {
		Versions []map[string]any `json:"versions"`
		Count    int              `json:"count"`
	}
	if err := json.Unmarshal(body, &out); err != nil || st != 200 {
		t.Fatalf("versions: %d %s", st, body)
	}
	if out.Count != 3 || len(out.Versions) != 3 {
		t.Fatalf("%d versions, want 3 (stored, re-sent the same, changed): %s", out.Count, body)
	}
	if out.Versions[0]["content"] != "the second version" || out.Versions[2]["content"] != recs[4].Content {
		t.Errorf("versions are not newest first: %v, %v", out.Versions[0]["content"], out.Versions[2]["content"])
	}
	if _, ok := out.Versions[0]["embedding"]; ok {
		t.Error("versions carry the embedding")
	}
	if a, _ := out.Versions[0]["ingested_at"].(string); a <= out.Versions[1]["ingested_at"].(string) {
		t.Errorf("ingested_at %v is not after %v", out.Versions[0]["ingested_at"], out.Versions[1]["ingested_at"])
	}
	st, _, body = do(t, "GET", path, nil, nil)
	if st != 200 || !strings.Contains(string(body), "the second version") {
		t.Errorf("the lookup answers %d %s, want the latest version", st, body)
	}
	if st, _, _ := do(t, "GET", p.url+"/v1/memories/"+again.SystemID+"/nope/versions", nil, nil); st != 404 {
		t.Errorf("versions of a missing record: %d, want 404", st)
	}
	if st, _, _ := do(t, "GET", p.url+"/v1/memories/bad%20sys/x/versions", nil, nil); st != 400 {
		t.Errorf("versions with a bad system id: %d, want 400", st)
	}
}

// GET /v1/lake sums the live files per tier from the log, names the
// operations of recent commits, and answers the jobs' recorded runs.
func TestLakeStatus(t *testing.T) {
	store := testenv.Local(t)
	p := startProcess(t, store, query.Config{})
	recs := records(3, 2, 30, 9)
	push(t, p, recs)
	push(t, p, recs[:5])
	run := jobmetrics.Start("compact")
	run.Items("compacted", 2)
	if err := jobmetrics.WriteRecord(ctxT(t), store, run.Record(3, errors.New("one merge failed"), time.Now())); err != nil {
		t.Fatal(err)
	}
	st, _, body := do(t, "GET", p.url+"/v1/lake", nil, nil)
	var out query.LakeStatus
	if err := json.Unmarshal(body, &out); err != nil || st != 200 {
		t.Fatalf("GET /v1/lake: %d %s", st, body)
	}
	if len(out.Tables) != 3 || out.Tables[0].Name != "memories" {
		t.Fatalf("tables %+v", out.Tables)
	}
	m := out.Tables[0]
	if m.Records != 35 || m.Tiers["hot"].Records != 35 || m.Tiers["hot"].Files != m.Files || m.Bytes <= 0 {
		t.Errorf("memories: %+v, want 35 stored rows, all hot", m)
	}
	if m.LastCommit == nil || m.LastCommit.Operation != "WRITE" || m.LastCommit.Version != m.Version {
		t.Errorf("last commit %+v, want the WRITE of version %d", m.LastCommit, m.Version)
	}
	ops := map[string]int{}
	for _, o := range m.Operations {
		ops[o.Operation] = o.Commits
	}
	if ops["WRITE"] < 2 || ops["CREATE TABLE"] != 1 {
		t.Errorf("operations %v, want the writes and the table's creation", ops)
	}
	if len(out.Jobs) != 1 || out.Jobs[0].Job != "compact" || out.Jobs[0].Result != "partial" || out.Jobs[0].Items["compacted"] != 2 {
		t.Errorf("jobs %+v, want the partial compaction", out.Jobs)
	}
	if len(out.Indexes) != 0 {
		t.Errorf("indexes %+v before the index job", out.Indexes)
	}

	// After the index job: the hot tier's one segment, with its vectors
	// (the latest version of each record, 30 of them) and its full-text
	// part. One more push makes a new snapshot, so the answer is fresh.
	if _, err := indexer.Run(ctxT(t), p.lake, indexer.Options{MinVectors: -1, EfConstruction: 32}); err != nil {
		t.Fatal(err)
	}
	push(t, p, records(1, 1, 1, 10))
	st, _, body = do(t, "GET", p.url+"/v1/lake", nil, nil)
	out = query.LakeStatus{}
	if err := json.Unmarshal(body, &out); err != nil || st != 200 {
		t.Fatalf("GET /v1/lake: %d %s", st, body)
	}
	want := []query.TierSegments{{Tier: "hot", Segments: 1, Vectors: 30, FullText: 1}}
	if len(out.Indexes) != 1 || out.Indexes[0].Objects != 4 || !slices.Equal(out.Indexes[0].Segments, want) {
		t.Errorf("indexes %+v, want the memories table's one hot segment: %+v", out.Indexes, want)
	}
}

// GET /v1/systems is answered again from memory until a commit changes the
// snapshots, gzipped when the client accepts it, and afresh after a commit.
func TestSystemsAnswerFollowsCommits(t *testing.T) {
	p := startProcess(t, testenv.Local(t), query.Config{})
	recs := records(3, 1, 9, 11)
	push(t, p, recs)
	get := func(gz bool) (string, []byte) {
		req, _ := http.NewRequest("GET", p.url+"/v1/systems", nil)
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := http.DefaultTransport.RoundTrip(req) // no transparent decompression
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.Header.Get("Content-Encoding"), b
	}
	_, first := get(false)
	if _, again := get(false); string(again) != string(first) {
		t.Errorf("the same snapshots answered %s, then %s", first, again)
	}
	more := records(1, 1, 2, 12)
	more[0].SystemID, more[1].SystemID = "newcomer", "newcomer"
	for i := range more {
		more[i].CreatedAt = time.Now().UTC().AddDate(0, 0, -3).Add(time.Duration(i) * time.Minute).Truncate(time.Microsecond)
	}
	pushed := time.Now().UTC().Truncate(time.Millisecond)
	push(t, p, more)
	_, after := get(false)
	if !strings.Contains(string(after), `"newcomer"`) {
		t.Errorf("after a commit: %s, want the new system", after)
	}
	// last is the latest created_at, last_push the latest ingest: the
	// newcomer's records were created days ago but pushed just now.
	var ans struct {
		Systems []struct {
			SystemID string `json:"system_id"`
			Last     string `json:"last"`
			LastPush string `json:"last_push"`
		} `json:"systems"`
	}
	if err := json.Unmarshal(after, &ans); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range ans.Systems {
		if s.SystemID != "newcomer" {
			continue
		}
		found = true
		last, err1 := time.Parse(time.RFC3339Nano, s.Last)
		lastPush, err2 := time.Parse(time.RFC3339Nano, s.LastPush)
		if err1 != nil || err2 != nil || lastPush.Before(pushed) || lastPush.After(time.Now()) || !last.Before(pushed.Add(-time.Hour)) {
			t.Errorf("newcomer: last %q, last_push %q; pushed at %s", s.Last, s.LastPush, pushed)
		}
	}
	if !found {
		t.Errorf("no newcomer in %s", after)
	}
	if enc, _ := get(true); enc != "" {
		t.Errorf("a small answer was %s-encoded", enc)
	}
}
