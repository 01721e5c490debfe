package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// ingestAppID is the Delta txn appId the ingest function commits for an
// Idempotency-Key (functions/ingest/rest.go).
func ingestAppID(key string) string { return "akosha-ingest:" + key }

// batch is one ingest request as a client keeps it until it is
// acknowledged: the Idempotency-Key, the exact body (a retry must send the
// same bytes, or the key answers 409) and the records' keys.
type batch struct {
	key  string
	body []byte
	ids  []string // system_id/id
}

// newBatch builds a request of n fresh memories of one system. Without
// embed the records are small (no embedding, 200 bytes of text): the tests
// that use that check accounting, not vectors.
func newBatch(key, systemID string, seed uint64, n int, embed bool, now time.Time) batch {
	recs := gen.Memories(seed, n, 1, 1)
	ids := make([]string, n)
	for i := range recs {
		recs[i].SystemID = systemID
		recs[i].CreatedAt = now.Add(-time.Duration(i+1) * time.Second).UTC()
		if !embed {
			recs[i].Embedding = nil
			recs[i].Content = recs[i].Content[:200]
		}
		ids[i] = systemID + "/" + recs[i].ID
	}
	body, err := json.Marshal(map[string]any{"system_id": systemID, "records": recs})
	if err != nil {
		panic(err)
	}
	return batch{key: key, body: body, ids: ids}
}

// ingestAnswer is the body of an ingest answer (api/openapi.yaml, IngestResponse).
type ingestAnswer struct {
	Status    string `json:"status"`
	Total     int    `json:"total"`
	Stored    int    `json:"stored"`
	Failed    int    `json:"failed"`
	Version   int64  `json:"version"`
	Duplicate bool   `json:"duplicate"`
}

// attempt is the outcome of one POST: an HTTP answer, or a transport error
// (connection refused or reset, timeout) when none arrived.
type attempt struct {
	status int
	ans    ingestAnswer
	raw    []byte
	err    error
}

func (a attempt) acked() bool { return a.err == nil && a.status == http.StatusOK }

// retryable: no answer, or a 5xx. Both leave the outcome unknown to the
// client, which retries with the same key.
func (a attempt) retryable() bool { return a.err != nil || a.status >= 500 }

func (a attempt) String() string {
	if a.err != nil {
		return "error: " + a.err.Error()
	}
	return fmt.Sprintf("%d %s", a.status, bytes.TrimSpace(a.raw))
}

// post sends b once to url (the ingest function's /v1/memories).
func post(ctx context.Context, c *http.Client, url string, b batch, hdr http.Header) attempt {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b.body))
	if err != nil {
		return attempt{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", b.key)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return attempt{err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return attempt{err: fmt.Errorf("reading the answer: %w", err)}
	}
	a := attempt{status: resp.StatusCode, raw: raw}
	if a.status == http.StatusOK {
		if err := json.Unmarshal(raw, &a.ans); err != nil {
			return attempt{status: a.status, raw: raw, err: fmt.Errorf("200 with a body that is not an answer: %w", err)}
		}
	}
	return a
}

// checkErrorBody reports whether raw is the API's error shape,
// {"error": {"code": "...", "message": "..."}}, with both set.
func checkErrorBody(raw []byte) error {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return fmt.Errorf("not JSON: %q", truncate(raw))
	}
	if e.Error.Code == "" || e.Error.Message == "" {
		return fmt.Errorf("not the error shape: %q", truncate(raw))
	}
	return nil
}

func errorCode(raw []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal(raw, &e)
	return e.Error.Code
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// sqlAnswer is the JSON answer of POST /v1/sql.
type sqlAnswer struct {
	Rows     [][]any `json:"rows"`
	RowCount int     `json:"row_count"`
	Version  int64   `json:"version"`
}

// postSQL runs one statement on a query function. It returns the status
// and, for a 200, the decoded answer; err is a transport error.
func postSQL(ctx context.Context, c *http.Client, base, sql string, hdr http.Header) (int, *sqlAnswer, []byte, error) {
	body, _ := json.Marshal(map[string]any{"sql": sql})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/sql", bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, raw, nil
	}
	var a sqlAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		return resp.StatusCode, nil, raw, fmt.Errorf("200 with a body that is not an answer: %w", err)
	}
	return resp.StatusCode, &a, raw, nil
}

// num reads a JSON number of a SQL answer.
func num(v any) int64 {
	switch n := v.(type) {
	case float64:
		return int64(n)
	case json.Number:
		i, _ := n.Int64()
		return i
	case int64:
		return n
	case uint64:
		return int64(n)
	case int32:
		return int64(n)
	}
	panic(fmt.Sprintf("not a number: %T %v", v, v))
}

// audit is what the memories table holds, read from the store itself (no
// cache, no query engine, no latest-wins view that could hide a doubled
// record):
//
//   - the live files of the latest snapshot, each opened and its rows' ids
//     counted, by (system_id, id) as the rows hold them;
//   - the whole log replayed commit by commit: the rows every dataChange=true
//     add wrote (what ingest wrote; compaction's adds are dataChange=false)
//     and the versions that committed each txn appId.
type audit struct {
	Version      int64
	LiveFiles    int
	LiveRows     int64
	IDs          map[string]int // system_id/id -> rows in live files
	IngestedRows int64
	Commits      int64
	Compactions  int64              // commits of the compaction job (commitInfo operation OPTIMIZE)
	Txns         map[string][]int64 // appId -> versions committing it
	Missing      []string           // live files absent, or not of the logged size
}

func auditMemories(ctx context.Context, store storage.Store) (*audit, error) {
	tbl := delta.NewTable(store, schemas.TableMemories)
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	a := &audit{Version: snap.Version, IDs: map[string]int{}, Txns: map[string][]int64{}}
	for v := int64(0); v <= snap.Version; v++ {
		acts, err := tbl.ReadCommit(ctx, v)
		if err != nil {
			return nil, fmt.Errorf("commit %d: %w", v, err)
		}
		a.Commits++
		for _, act := range acts {
			switch {
			case act.CommitInfo != nil && act.CommitInfo["operation"] == "OPTIMIZE":
				a.Compactions++
			case act.Txn != nil:
				a.Txns[act.Txn.AppID] = append(a.Txns[act.Txn.AppID], v)
			case act.Add != nil && act.Add.DataChange:
				st, err := act.Add.ParsedStats()
				if err != nil {
					return nil, fmt.Errorf("commit %d: add %s: stats: %w", v, act.Add.Path, err)
				}
				a.IngestedRows += st.NumRecords
			}
		}
	}
	for f := range snap.AllFiles() {
		a.LiveFiles++
		key, err := tbl.DataKey(f.Path)
		if err != nil {
			return nil, err
		}
		data, err := storage.ReadAll(ctx, store, key)
		if err != nil {
			a.Missing = append(a.Missing, fmt.Sprintf("%s: %v", key, err))
			continue
		}
		if int64(len(data)) != f.Size {
			a.Missing = append(a.Missing, fmt.Sprintf("%s: %d bytes, the log says %d", key, len(data), f.Size))
			continue
		}
		ids, err := readIDs(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		for _, id := range ids {
			a.IDs[id]++
		}
		a.LiveRows += int64(len(ids))
	}
	return a, nil
}

// readIDs reads the record keys (system_id/id) of a memories data file.
func readIDs(data []byte) ([]string, error) {
	type idRow struct {
		SystemID string `parquet:"system_id"`
		ID       string `parquet:"id"`
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	r := parquet.NewGenericReader[idRow](f)
	defer r.Close()
	out := make([]string, 0, f.NumRows())
	buf := make([]idRow, 256)
	for {
		n, err := r.Read(buf)
		for _, row := range buf[:n] {
			out = append(out, row.SystemID+"/"+row.ID)
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// figures are one test's results, printed as a table at its end and, when
// AKOSHA_FIGURES_DIR is set, written there as <name>.md for RELIABILITY.md.
type figures struct {
	name string
	rows [][2]string
}

func (f *figures) add(what, format string, args ...any) {
	f.rows = append(f.rows, [2]string{what, fmt.Sprintf(format, args...)})
}

func (f *figures) report(t *testing.T) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "| %s | |\n|---|---|\n", f.name)
	for _, r := range f.rows {
		fmt.Fprintf(&b, "| %s | %s |\n", r[0], r[1])
	}
	t.Logf("figures:\n%s", b.String())
	if dir := os.Getenv("AKOSHA_FIGURES_DIR"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Errorf("figures: %v", err)
			return
		}
		name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + ".md"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			t.Errorf("figures: %v", err)
		}
	}
}

// latencies collects durations and reports percentiles.
type latencies []time.Duration

func (l latencies) percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := append(latencies(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func envInt(t testing.TB, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, v)
	}
	return n
}

func envDuration(t testing.TB, name string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		t.Fatalf("%s=%q: want a duration such as 3m", name, v)
	}
	return d
}

// waitFor polls cond every 50 ms until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}
