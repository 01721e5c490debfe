package chaos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
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
	"github.com/akosha/akosha/jobs/vacuum"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// TestTimeTravelAcceptance is issue 15's "done when", on the real S3
// server. A lake is built through the real ingest function and jobs:
// batches over three days, re-sends moved to other days, deletes, aging,
// compaction (with its cross-partition dedupe) and the index job, then more
// ingest. The count of memories is recorded after every commit. Then:
//
//   - right after compaction, DuckDB alone replays the log (read_json over
//     the commits and the checkpoint's Parquet) and reads the live files:
//     the same rows as /v1/sql;
//   - every version answers as_of (by version, and by its commit time) with
//     the count it had; search as_of finds a deleted record before its
//     delete and not after;
//   - after vacuum cleans the log, versions below the checkpoint it keeps
//     answer 410 version_not_retained and every later one its count.
func TestTimeTravelAcceptance(t *testing.T) {
	ctx := testenv.Context(t)
	store := testenv.S3(t)
	l := open(t, store)
	tb, _ := l.Table(schemas.TableMemories)
	tb.Log.CheckpointInterval = 5 // several checkpoints, so vacuum can clean below one

	a, err := auth.New(auth.Config{Disabled: true})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	in, err := ingest.Open(l, a, ingest.Config{}, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Stop(ctx)
	q, err := query.Open(l, a, query.Config{CacheDir: t.TempDir(), RedisURL: testenv.RedisURL(t)}, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Stop(ctx)
	mux := http.NewServeMux()
	for _, r := range ingest.Routes() {
		mux.HandleFunc(r, in.Handle)
	}
	for _, r := range query.Routes() {
		mux.HandleFunc(r, q.Handle)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	call := func(method, path string, body any) (int, []byte) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequestWithContext(ctx, method, srv.URL+path, rd)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	// counts[v] is count(*) of the memories view at version v.
	counts := map[int64]int64{}
	last := int64(-1)
	n := int64(0)
	mark := func() {
		t.Helper()
		snap, err := tb.Refresh(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for v := last + 1; v <= snap.Version; v++ {
			counts[v] = n
		}
		last = snap.Version
	}
	send := func(recs []schemas.Memory) {
		t.Helper()
		if st, body := call("POST", "/v1/memories", map[string]any{"records": recs}); st != 200 {
			t.Fatalf("ingest: %d %s", st, body)
		}
		mark()
	}
	mark() // version 0: the table's creation

	recs := gen.Memories(41, 300, 4, 3) // 2026-11-01..03
	for i := 0; i < 240; i += 60 {
		n += 60
		send(recs[i : i+60])
	}
	// Re-sends, moved one and two days on: latest wins, the count stays.
	for round, shift := range []time.Duration{24 * time.Hour, 49 * time.Hour} {
		var again []schemas.Memory
		for i := round; i < 240; i += 7 {
			m := recs[i]
			m.CreatedAt = m.CreatedAt.Add(shift)
			m.Content = fmt.Sprintf("v%d %s", round+2, m.ID)
			again = append(again, m)
		}
		send(again)
	}
	// Deletes, one commit each; deleted records the search checks later.
	deleted := []schemas.Memory{recs[3], recs[50], recs[7]} // recs[7] was re-sent: every version goes
	deletedAt := map[string]int64{}
	for _, m := range deleted {
		st, body := call("DELETE", "/v1/memories/"+m.SystemID+"/"+m.ID, nil)
		if st != 200 {
			t.Fatalf("delete %s: %d %s", m.ID, st, body)
		}
		n--
		mark()
		deletedAt[m.ID] = last
	}
	// The first day goes warm (a tier move: int8 vectors), then compaction
	// merges files and removes superseded versions across partitions.
	if _, err := age.Run(ctx, l, age.Options{Tables: []string{schemas.TableMemories}, Now: gen.Base.AddDate(0, 0, 9).Add(12 * time.Hour),
		Policy: age.Policy{WarmAfter: 8, ColdAfter: 90, DeleteAfter: 1000}}); err != nil {
		t.Fatal(err)
	}
	mark()
	sum, err := compact.Run(ctx, l, compact.Options{Tables: []string{schemas.TableMemories}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Tables[schemas.TableMemories].Dedupe.Superseded == 0 {
		t.Fatal("the dedupe pass removed nothing: the scenario has no version across partitions")
	}
	mark()
	compacted := last

	// After compaction, an independent replay of the log gives the rows of
	// /v1/sql.
	const cols = "system_id, id, kind, content, project, CAST(created_at AS VARCHAR), tier"
	res, err := q.Query(ctx, "SELECT "+cols+" FROM memories ORDER BY system_id, id", 100000)
	if err != nil {
		t.Fatal(err)
	}
	var want [][]string
	for _, r := range res.Rows {
		want = append(want, stringRow(r))
	}
	dir := download(t, store, schemas.TableMemories)
	got := rawReplay(t, filepath.Join(dir, schemas.TableMemories), "SELECT "+cols+" FROM live ORDER BY system_id, id")
	if int64(len(want)) != n || !reflect.DeepEqual(got, want) {
		t.Fatalf("after compaction: raw replay %d rows, /v1/sql %d, expected %d (first difference: %s)", len(got), len(want), n, firstDiff(got, want))
	}

	// The index job, then more ingest and a re-send after it: the index
	// covers files that later versions no longer have all live.
	if _, err := indexer.Run(ctx, l, indexer.Options{MinVectors: -1}); err != nil {
		t.Fatal(err)
	}
	if err := q.RefreshIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	mark()
	n += 60
	send(recs[240:])
	var again []schemas.Memory
	for i := 1; i < 240; i += 11 {
		if m := recs[i]; deletedAt[m.ID] == 0 {
			m.Content = "v4 " + m.ID
			m.CreatedAt = m.CreatedAt.Add(-24 * time.Hour)
			again = append(again, m)
		}
	}
	send(again)
	t.Logf("%d versions; compaction ended at %d", last+1, compacted)

	type sqlAnswer struct {
		Rows     [][]any          `json:"rows"`
		Versions map[string]int64 `json:"versions"`
	}
	countAt := func(asOf any) (int, sqlAnswer, string) {
		t.Helper()
		st, body := call("POST", "/v1/sql", map[string]any{"sql": "SELECT count(*) FROM memories", "as_of": asOf})
		var ans sqlAnswer
		if st == 200 {
			if err := json.Unmarshal(body, &ans); err != nil {
				t.Fatal(err)
			}
		}
		return st, ans, string(body)
	}
	checkCount := func(v int64, asOf any) {
		t.Helper()
		st, ans, body := countAt(asOf)
		if st != 200 || len(ans.Rows) != 1 || int64(ans.Rows[0][0].(float64)) != counts[v] || ans.Versions[schemas.TableMemories] != v {
			t.Errorf("as_of %v (version %d): %d %s; want count %d", asOf, v, st, body, counts[v])
		}
	}
	for v := int64(0); v <= last; v++ {
		checkCount(v, v)
	}
	// By time: each version's commit time names it, unless the next
	// version was committed within the same millisecond.
	for v := int64(1); v <= last; v++ {
		at, err := tb.Log.CommitTime(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		if v < last {
			if next, err := tb.Log.CommitTime(ctx, v+1); err != nil || !next.After(at) {
				continue
			}
		}
		checkCount(v, at.Format(time.RFC3339Nano))
	}
	// Search as of the versions around each delete.
	for _, m := range deleted {
		d := deletedAt[m.ID]
		for _, tc := range []struct {
			v     int64
			found bool
		}{{d - 1, true}, {d, false}, {last, false}} {
			st, body := call("POST", "/v1/search", map[string]any{"vector": toF64(m.Embedding), "k": 5, "as_of": tc.v})
			var ans struct {
				Results []query.SearchResult `json:"results"`
				Version int64                `json:"version"`
			}
			if st != 200 || json.Unmarshal(body, &ans) != nil || ans.Version != tc.v {
				t.Fatalf("search as_of %d: %d %s", tc.v, st, body)
			}
			found := len(ans.Results) > 0 && ans.Results[0].ID == m.ID && ans.Results[0].SystemID == m.SystemID
			if found != tc.found {
				t.Errorf("search for %s (deleted at %d) as_of %d: found %v, want %v (%d results)", m.ID, d, tc.v, found, tc.found, len(ans.Results))
			}
		}
	}

	// Vacuum cleans the log below the newest checkpoint older than the
	// retention: its clock is set so that the checkpoint at 10 is just
	// older (later ones too, should the store's times be coarser than
	// the commits' spacing). Removed data files stay (grace), so every
	// version the log keeps still answers.
	cp, err := store.Head(ctx, fmt.Sprintf("%s/_delta_log/%020d.checkpoint.parquet", schemas.TableMemories, 10))
	if err != nil {
		t.Fatal(err)
	}
	vs, err := vacuum.Run(ctx, l, vacuum.Options{Tables: []string{schemas.TableMemories},
		Now: func() time.Time { return cp.ModTime.Add(30*time.Minute + time.Millisecond) }, LogRetention: 30 * time.Minute, Grace: 1000 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	cutoff := vs.Tables[schemas.TableMemories].LogRetainedFrom
	if cutoff < 10 || vs.Tables[schemas.TableMemories].Deleted[vacuum.KindLog] == 0 {
		t.Fatalf("vacuum kept the log from %d, deleted %d commits: nothing to check", cutoff, vs.Tables[schemas.TableMemories].Deleted[vacuum.KindLog])
	}
	for v := int64(0); v <= last; v++ {
		if v >= cutoff {
			checkCount(v, v)
			continue
		}
		st, _, body := countAt(v)
		if st != 410 || !strings.Contains(body, "version_not_retained") {
			t.Errorf("as_of %d, below the log's oldest %d after vacuum: %d %s; want 410 version_not_retained", v, cutoff, st, body)
		}
	}
	first, err := tb.Log.CommitTime(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if st, _, body := countAt(first.Add(-time.Millisecond).Format(time.RFC3339Nano)); st != 410 {
		t.Errorf("as_of just before the oldest retained version's time: %d %s; want 410", st, body)
	}
	if st, _, body := countAt(last + 1); st != 404 || !strings.Contains(body, "version_not_found") {
		t.Errorf("as_of after the latest: %d %s; want 404 version_not_found", st, body)
	}
	// A process started after the cleanup (nothing memoized) says the same.
	fresh, err := query.Open(open(t, store), a, query.Config{CacheDir: t.TempDir()}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Stop(ctx)
	for _, v := range []int64{0, cutoff - 1} {
		if _, err := fresh.QueryAt(ctx, "SELECT count(*) FROM memories", 1, query.AsOf(fmt.Sprint(v))); err == nil || !strings.Contains(err.Error(), "410 version_not_retained") {
			t.Errorf("a fresh process, as_of %d below the log's oldest %d: %v; want 410 version_not_retained", v, cutoff, err)
		}
	}
	if res, err := fresh.QueryAt(ctx, "SELECT count(*) FROM memories", 1, query.AsOf(fmt.Sprint(cutoff))); err != nil || toInt(res.Rows[0][0]) != counts[cutoff] {
		t.Errorf("a fresh process, as_of %d: %v %v; want %d", cutoff, err, res, counts[cutoff])
	}
	t.Logf("log kept from version %d of %d", cutoff, last)
}

// download copies one table of the lake (log and data) into a temporary
// directory, for DuckDB, which reads no S3 here.
func download(t *testing.T, store storage.Store, table string) string {
	t.Helper()
	ctx := testenv.Context(t)
	dir := t.TempDir()
	objs, err := store.List(ctx, table+"/")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		b, err := storage.ReadAll(ctx, store, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(o.Key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func firstDiff(a, b [][]string) string {
	for i := range min(len(a), len(b)) {
		if !reflect.DeepEqual(a[i], b[i]) {
			return fmt.Sprintf("row %d: %v vs %v", i, a[i], b[i])
		}
	}
	return "none in the common rows"
}

func toF64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}
