package query_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/schemas"
)

// systemsOf is GET /v1/systems as system -> total, and the raw answer.
func systemsOf(t *testing.T, p *process, query string) (map[string]int64, string) {
	t.Helper()
	st, _, body := do(t, "GET", p.url+"/v1/systems"+query, nil, nil)
	if st != 200 {
		t.Fatalf("GET /v1/systems%s: %d %s", query, st, body)
	}
	var ans struct {
		Systems []struct {
			SystemID string `json:"system_id"`
			Total    int64  `json:"total"`
		} `json:"systems"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, s := range ans.Systems {
		out[s.SystemID] = s.Total
	}
	return out, string(body)
}

// After a commit the warmer computes the next GET /v1/systems in the
// background: the next request is served the kept answer without computing,
// and it is the answer computed synchronously (a query string bypasses the
// warmed key). After a delete or an ingest a request never gets the answer
// of the snapshot before, however the warmer and the request interleave.
// The warmer stops with the function.
func TestSystemsAnswerWarmedAfterCommit(t *testing.T) {
	p := startProcess(t, testenv.Local(t), query.Config{WarmAnswers: query.WarmAsked, WarmEvery: 20 * time.Millisecond, WarmSettle: time.Millisecond})
	push(t, p, records(3, 1, 9, 21))
	if query.SystemsKept(p.query) {
		t.Fatal("kept before anyone asked (asked mode)")
	}
	systemsOf(t, p, "") // asked: from now on warmed

	newcomer := records(1, 1, 2, 22)
	for i := range newcomer {
		newcomer[i].SystemID = "newcomer"
	}
	push(t, p, newcomer)
	testenv.WaitFor(t, "the warmed answer after the commit", 20*time.Second, func() bool { return query.SystemsKept(p.query) })
	before := query.AnswersComputed(p.query, "request")
	warm, body := systemsOf(t, p, "")
	if n := query.AnswersComputed(p.query, "request"); n != before {
		t.Errorf("the request computed (%d -> %d computations): the warmed answer was not ready", before, n)
	}
	if warm["newcomer"] != 2 {
		t.Errorf("warmed answer: newcomer has %d records, want 2: %s", warm["newcomer"], body)
	}
	if query.AnswersComputed(p.query, "warm") == 0 {
		t.Error("the warmer computed nothing")
	}
	if _, sync := systemsOf(t, p, "?sync=1"); sync != body {
		t.Errorf("warmed answer\n%s\ndiffers from the synchronous one\n%s", body, sync)
	}

	// Read-your-writes: a delete, then at once the answer.
	st, _, out := do(t, "DELETE", p.url+"/v1/memories/newcomer/"+newcomer[0].ID, nil, nil)
	if st != 200 {
		t.Fatalf("delete: %d %s", st, out)
	}
	if got, body := systemsOf(t, p, ""); got["newcomer"] != 1 {
		t.Errorf("right after the delete: newcomer has %d records, want 1: %s", got["newcomer"], body)
	}
	testenv.WaitFor(t, "the warmed answer after the delete", 20*time.Second, func() bool { return query.SystemsKept(p.query) })
	_, body = systemsOf(t, p, "")
	if _, sync := systemsOf(t, p, "?sync=2"); sync != body {
		t.Errorf("after the delete, warmed answer\n%s\ndiffers from the synchronous one\n%s", body, sync)
	}

	// Ingests racing the warmer: each answer right after a commit holds it.
	for i := range 5 {
		recs := records(1, 1, 1, uint64(30+i))
		recs[0].SystemID = fmt.Sprintf("racer-%d", i)
		push(t, p, recs)
		if got, body := systemsOf(t, p, ""); got[recs[0].SystemID] != 1 {
			t.Errorf("right after ingest %d: %s missing: %s", i, recs[0].SystemID, body)
		}
	}

	if err := p.query.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !query.AnswersWarmerStopped(p.query) {
		t.Error("the warmer runs on after Stop")
	}
}

// In "start" mode the fleet-wide answer is warmed before anyone asks, so
// the first visit after a start (or a commit) finds it ready; "off" runs no
// warmer.
func TestSystemsAnswerWarmedFromStart(t *testing.T) {
	p := startProcess(t, testenv.Local(t), query.Config{WarmAnswers: query.WarmStart, WarmEvery: 20 * time.Millisecond, WarmSettle: time.Millisecond})
	push(t, p, records(4, 2, 20, 23))
	testenv.WaitFor(t, "the warmed answer", 20*time.Second, func() bool { return query.SystemsKept(p.query) })
	got, body := systemsOf(t, p, "")
	if n := query.AnswersComputed(p.query, "request"); n != 0 {
		t.Errorf("the first request computed the answer (%d): not warmed", n)
	}
	var total int64
	for _, n := range got {
		total += n
	}
	if total != 20 {
		t.Errorf("warmed answer counts %d records, want 20: %s", total, body)
	}
	if _, sync := systemsOf(t, p, "?sync=1"); sync != body {
		t.Errorf("warmed answer\n%s\ndiffers from the synchronous one\n%s", body, sync)
	}
	tb, _ := p.lake.Table(schemas.TableMemories)
	if tb.Cached().Version == 0 {
		t.Error("no commit")
	}

	off := startProcess(t, testenv.Local(t), query.Config{WarmAnswers: query.WarmOff})
	if !query.AnswersWarmerStopped(off.query) {
		t.Error("off: a warmer runs")
	}
}

// The warmer keeps each tenant's own answer: computed through that
// tenant's scope as the mapping stands after the commit (a system claimed
// since is in it), served to that tenant only.
func TestSystemsAnswerWarmedPerTenant(t *testing.T) {
	p := startTenants(t)
	write := func(key, sys string) {
		t.Helper()
		recs := []map[string]any{{"id": "m0", "content": "x", "created_at": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)}}
		if st, _, body := do(t, "POST", p.ingest+"/v1/memories", map[string]any{"system_id": sys, "records": recs}, bearer(key)); st != 200 {
			t.Fatalf("write %s: %d %s", sys, st, body)
		}
	}
	systems := func(key string) string {
		t.Helper()
		st, _, body := do(t, "GET", p.query+"/v1/systems", nil, bearer(key))
		if st != 200 {
			t.Fatalf("GET /v1/systems: %d %s", st, body)
		}
		return string(body)
	}
	write(keyA, "a1")
	write(keyB, "b1")
	systems(keyA) // both tenants asked: both are warmed from now on
	systems(keyB)
	write(keyA, "a2") // a commit, and a system claimed for team A since
	testenv.WaitFor(t, "team A's warmed answer", 20*time.Second, func() bool { return query.SystemsKeptFor(p.fn, "team-a") })
	testenv.WaitFor(t, "team B's warmed answer", 20*time.Second, func() bool { return query.SystemsKeptFor(p.fn, "team-b") })
	before := query.AnswersComputed(p.fn, "request")
	a, b := systems(keyA), systems(keyB)
	if n := query.AnswersComputed(p.fn, "request"); n != before {
		t.Errorf("requests computed (%d -> %d): the warmed answers were not ready", before, n)
	}
	if !strings.Contains(a, `"a2"`) || !strings.Contains(a, `"a1"`) || strings.Contains(a, `"b1"`) {
		t.Errorf("team A's answer: %s", a)
	}
	if !strings.Contains(b, `"b1"`) || strings.Contains(b, `"a1"`) || strings.Contains(b, `"a2"`) {
		t.Errorf("team B's answer: %s", b)
	}
}
