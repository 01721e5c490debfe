package main

// The web console (/ui) used as a person would: headless Chromium signs in
// to `akosha serve` with auth on (a viewer's API key), searches, opens a
// record and its versions, runs SQL with a chart and a sandbox error, pages
// through the fleet with its sparklines and anomalies, draws the graph
// around an entity and a path, and reads the lake and jobs page; by
// keyboard where a person would use it; at 1280x800 and at 390x844. Each
// page is saved as a screenshot (artefactsDir).

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/akosha/akosha/internal/jobmetrics"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake/storage"
)

// seedConsole stores what the pages show: three systems with a record a
// day for 25 days (laptop-1 with a burst of 30 on one day: an anomaly), a
// record sent twice (two versions), a small knowledge graph, and a
// compaction run.
func seedConsole(t *testing.T, p *process, lakeDir string) {
	t.Helper()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	topics := []string{"fixed the flaky test in the lake writer", "delta log checkpoint every 100 versions",
		"duckdb reads the cached parquet files", "hnsw recall at ef 100"}
	post := func(path string, body any) {
		t.Helper()
		b, _ := json.Marshal(body)
		hdr := http.Header{"X-Api-Key": {adminKey}, "Content-Type": {"application/json"}}
		if status, _, out := p.do(t, http.MethodPost, path, b, hdr); status != http.StatusOK {
			t.Fatalf("POST %s: %d %s", path, status, out)
		}
	}
	for _, sys := range []string{"laptop-1", "ci-runner", "desk-2"} {
		var recs []map[string]any
		for d := 1; d <= 25; d++ {
			recs = append(recs, map[string]any{
				"id": fmt.Sprintf("m%d", d), "kind": []string{"conversation", "reflection", "memory"}[d%3],
				"content":    topics[d%len(topics)] + " (" + sys + ", day " + fmt.Sprint(d) + ")",
				"created_at": today.Add(-time.Duration(d)*24*time.Hour + 10*time.Hour).Format(time.RFC3339),
				"project":    "akosha", "tags": []string{"go", []string{"delta", "ops"}[d%2]},
			})
		}
		if sys == "laptop-1" {
			for i := range 30 {
				recs = append(recs, map[string]any{"id": fmt.Sprintf("burst%d", i), "kind": "memory", "project": "akosha",
					"content": "incident: the ingest queue backed up", "created_at": today.Add(-5*24*time.Hour + time.Duration(i)*time.Minute).Format(time.RFC3339)})
			}
		}
		post("/v1/memories", map[string]any{"system_id": sys, "records": recs})
	}
	post("/v1/memories", map[string]any{"system_id": "laptop-1", "records": []map[string]any{{
		"id": "m4", "kind": "reflection", "project": "akosha", "content": "fixed the flaky test for good: the second version",
		"created_at": today.Add(-4*24*time.Hour + 10*time.Hour).Format(time.RFC3339)}}})
	at := today.Add(-24 * time.Hour).Format(time.RFC3339)
	post("/v1/entities", map[string]any{"system_id": "laptop-1", "records": []map[string]any{
		{"id": "e1", "name": "DuckDB", "entity_type": "library", "observations": []string{"embedded OLAP engine"}, "created_at": at},
		{"id": "e2", "name": "Parquet", "entity_type": "format", "created_at": at},
		{"id": "e3", "name": "Akosha", "entity_type": "project", "created_at": at},
		{"id": "e4", "name": "Delta Lake", "entity_type": "format", "created_at": at}}})
	post("/v1/relations", map[string]any{"system_id": "laptop-1", "records": []map[string]any{
		{"id": "r1", "from_entity": "e3", "to_entity": "e1", "relation_type": "uses", "created_at": at},
		{"id": "r2", "from_entity": "e1", "to_entity": "e2", "relation_type": "reads", "created_at": at},
		{"id": "r3", "from_entity": "e3", "to_entity": "e4", "relation_type": "writes", "created_at": at}}})
	store, err := storage.NewLocal(lakeDir)
	if err != nil {
		t.Fatal(err)
	}
	run := jobmetrics.Start("compact")
	run.Items("compacted", 3)
	run.Bytes(1<<20, 600<<10)
	if err := jobmetrics.WriteRecord(testenv.Context(t), store, run.Record(0, nil, time.Now())); err != nil {
		t.Fatal(err)
	}
}

func TestConsoleInABrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	lakeDir := t.TempDir()
	p := startServerOn(t, lakeDir, (*runtime).bothServer, nil)
	seedConsole(t, p, lakeDir)
	shots := artefactsDir(t, "console")
	b := newBrowser(t, 1280, 800)
	ui := p.url + "/ui/"

	// Sign in: the console asks for a credential once; a wrong one is
	// refused with a message, a viewer's key is enough.
	b.step("open the console", chromedp.Navigate(ui+"#/fleet"))
	b.wait("the sign-in form", `!!document.querySelector('#token')`)
	b.screenshot(shots, "01-sign-in")
	b.step("sign in with a wrong key", chromedp.SendKeys("#token", "not-a-key-0123456789"+kb.Enter))
	b.wait("the refusal", `!!document.querySelector('[role=alert]') && /not accepted/.test(document.querySelector('[role=alert]').innerText)`)
	b.eval(`(document.querySelector('#token').value = '', '')`)
	b.step("sign in as a viewer", chromedp.SendKeys("#token", viewerKey+kb.Enter))
	// It goes on to the page first asked for.
	b.wait("the fleet after signing in", `location.hash === '#/fleet' && document.querySelectorAll('#fleet tbody tr').length === 3`)
	if got := b.eval(`sessionStorage.getItem('akosha.token')`); got != viewerKey {
		t.Errorf("the session keeps %q, want the key entered", got)
	}

	// Fleet: each system with its counts; sparklines for the shown page; the
	// burst flagged as an anomaly.
	b.wait("sparklines and the anomaly", `document.querySelectorAll('#fleet svg.spark').length === 3 && !!document.querySelector('#fleet tr[data-system="laptop-1"] .anomaly')`)
	// 25 + 30 records, one of them sent twice: 55 records (the fleet
	// counts through the latest-wins views, as SQL does).
	if row := b.text(`#fleet tr[data-system="laptop-1"]`); !strings.Contains(row, "hot 55") || !strings.Contains(row, "anomaly") {
		t.Errorf("laptop-1's row %q, want its 55 records, all hot, and the anomaly", row)
	}
	b.screenshot(shots, "02-fleet")

	// Search, by keyboard: "/" focuses the box, Enter searches.
	b.goTo("#/search")
	b.wait("the search box", `!!document.querySelector('input[name=q]')`)
	b.eval(`(document.activeElement.blur(), '')`)
	b.step("press /", chromedp.KeyEvent("/"))
	if name := b.eval(`document.activeElement.name || ''`); name != "q" {
		t.Errorf(`"/" focused %q, want the search box`, name)
	}
	b.step("type a search", chromedp.KeyEvent("flaky test"+kb.Enter))
	b.wait("the hits", `!!document.querySelector('#hit-count') && document.querySelectorAll('.hit').length > 0`)
	hits := b.text(".hits")
	if !strings.Contains(hits, "flaky test") || !strings.Contains(b.text("#hit-count"), "keyword") {
		t.Errorf("hits %q (%s), want keyword matches of 'flaky test'", hits, b.text("#hit-count"))
	}
	if n := b.text("main"); !strings.Contains(n, "Semantic search is unavailable") {
		t.Error("the page does not say that semantic search is unavailable without an embeddings endpoint")
	}
	b.screenshot(shots, "03-search")
	// Filters: a system and a tag narrow the hits.
	b.goTo("#/search?q=flaky&systems=laptop-1&tags=ops")
	b.wait("the filtered hits", `/hit/.test((document.querySelector('#hit-count')||{}).innerText||'') && [...document.querySelectorAll('.hit .badge')].every(e => !/ci-runner|desk-2/.test(e.innerText))`)

	// A hit links to its record, which lists its versions.
	b.goTo("#/search?q=second%20version")
	b.wait("the re-sent record's hit", `[...document.querySelectorAll('.hit a')].some(a => a.innerText === 'm4')`)
	b.step("open the record", chromedp.Click(`.hit a[href$="/m4"]`))
	b.wait("its versions", `document.querySelectorAll('#versions tbody tr').length === 2`)
	if c := b.text("#record-content"); !strings.Contains(c, "the second version") {
		t.Errorf("the record shows %q, want its latest version", c)
	}
	b.screenshot(shots, "04-record")

	// SQL: completion of the views' columns, a statement run with
	// Ctrl+Enter, its rows and a line chart; then the sandbox's error.
	b.goTo("#/sql")
	b.wait("the editor", `!!document.querySelector('.cm-content')`)
	ctrlA := chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl))
	// The page focuses the editor; a click on CodeMirror's content never
	// settles for chromedp's Click, so focus is checked, not clicked.
	b.wait("the editor focused", `document.activeElement === document.querySelector('.cm-content')`)
	b.step("type a column's start", ctrlA, chromedp.KeyEvent("SELECT system_"))
	b.wait("completion of system_id", `[...document.querySelectorAll('.cm-tooltip-autocomplete li')].some(li => li.innerText.includes('system_id'))`)
	// Unqualified names complete from every view, then from the views the
	// statement names: relations' columns, not only memories'.
	b.step("type a relations column's start", chromedp.KeyEvent(kb.Escape), ctrlA, chromedp.KeyEvent("SELECT relation_"))
	b.wait("completion of relation_type", `[...document.querySelectorAll('.cm-tooltip-autocomplete li')].some(li => li.innerText.includes('relation_type'))`)
	b.step("a statement over entities, completion asked for", chromedp.KeyEvent(kb.Escape), ctrlA,
		chromedp.KeyEvent("SELECT * FROM entities WHERE "), chromedp.KeyEvent(" ", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	b.wait("completion of entities' columns", `[...document.querySelectorAll('.cm-tooltip-autocomplete li')].some(li => li.innerText.includes('entity_type'))`)
	if opts := b.text(".cm-tooltip-autocomplete"); strings.Contains(opts, "relation_type") || strings.Contains(opts, "importance") {
		t.Errorf("a statement over entities completes %q, with other views' columns", opts)
	}
	b.step("write a statement", chromedp.KeyEvent(kb.Escape), ctrlA,
		chromedp.KeyEvent("SELECT day, count(*) AS records FROM memories GROUP BY day ORDER BY day"), chromedp.KeyEvent(kb.Escape))
	b.step("run it", chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	b.wait("rows and a line chart", `document.querySelectorAll('#sql-result tbody tr').length > 20 && document.querySelector('#sql-chart')?.dataset.kind === 'line' && !!document.querySelector('#sql-chart canvas')`)
	if s := b.text("#sql-status"); !strings.Contains(s, "rows") {
		t.Errorf("status %q", s)
	}
	b.screenshot(shots, "05-sql-chart")
	// The result downloads as CSV and as Parquet: files the browser saves.
	downloads := t.TempDir()
	if _, err := chromedp.CallBrowser(b.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}); err != nil {
		t.Fatalf("allow downloads: %v", err)
	}
	b.step("download CSV", chromedp.Click("#download-csv"))
	csv := waitForFile(t, filepath.Join(downloads, "akosha-query.csv"))
	if lines := strings.Split(strings.TrimSpace(string(csv)), "\n"); lines[0] != "day,records" || len(lines) < 22 {
		t.Errorf("the downloaded CSV: %d lines, header %q", len(lines), lines[0])
	}
	b.step("download Parquet", chromedp.Click("#download-parquet"))
	pq := waitForFile(t, filepath.Join(downloads, "akosha-query.parquet"))
	if len(pq) < 12 || string(pq[:4]) != "PAR1" || string(pq[len(pq)-4:]) != "PAR1" {
		t.Errorf("the downloaded Parquet file (%d bytes) is not Parquet", len(pq))
	}
	// A category beside a number is a bar chart.
	b.eval(`(document.querySelector('.cm-content').focus(), '')`)
	b.step("a statement by category", ctrlA, chromedp.KeyEvent("SELECT kind, count(*) AS n FROM memories GROUP BY kind ORDER BY kind"),
		chromedp.KeyEvent(kb.Escape), chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	b.wait("a bar chart", `document.querySelectorAll('#sql-result tbody tr').length === 3 && document.querySelector('#sql-chart')?.dataset.kind === 'bar'`)
	b.screenshot(shots, "05-sql-bar")
	b.eval(`(document.querySelector('.cm-content').focus(), '')`)
	b.step("a statement the sandbox refuses", ctrlA,
		chromedp.KeyEvent("SELECT nope FROM memories"), chromedp.KeyEvent(kb.Escape), chromedp.Click("#run-sql"))
	b.wait("the error", `!!document.querySelector('main .error')`)
	if e := b.text("main .error"); !strings.Contains(e, "sql_error") || !strings.Contains(e, "nope") {
		t.Errorf("the error shown is %q, want the sandbox's sql_error naming the column", e)
	}

	// Graph: the neighbourhood of an entity, then a path between two.
	b.goTo("#/graph?entity=DuckDB")
	b.wait("DuckDB's neighbours, drawn", `document.querySelectorAll('#neighbours li').length === 2 && !!document.querySelector('#graph-canvas canvas')`)
	if n := b.text("#neighbours"); !strings.Contains(n, "Parquet") || !strings.Contains(n, "Akosha") {
		t.Errorf("neighbours %q, want Parquet and Akosha", n)
	}
	b.screenshot(shots, "06-graph")
	b.goTo("#/graph?from=Akosha&to=Parquet&hops=4")
	b.wait("the path", `/2 hops/.test((document.querySelector('#path-result')||{}).innerText||'')`)
	if path := b.text("#path"); !strings.Contains(path, "DuckDB") {
		t.Errorf("path %q, want it through DuckDB", path)
	}
	b.screenshot(shots, "07-graph-path")

	// Lake and jobs.
	b.goTo("#/lake")
	b.wait("tables and jobs", `!!document.querySelector('#lake-tables') && !!document.querySelector('#lake-jobs tr[data-job=compact]')`)
	if j := b.text(`#lake-jobs tr[data-job=compact]`); !strings.Contains(j, "ok") || !strings.Contains(j, "compacted 3") {
		t.Errorf("the compaction row %q, want its result", j)
	}
	if tb := b.text("#lake-tables"); !strings.Contains(tb, "memories") || !strings.Contains(tb, "hot") {
		t.Errorf("tables %q", tb)
	}
	b.screenshot(shots, "08-lake")

	// A phone: the same pages fit 390 px without sideways scrolling.
	b.step("a phone's viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	for _, pg := range []struct{ hash, ready string }{
		{"#/fleet", `document.querySelectorAll('#fleet svg.spark').length === 3`},
		{"#/search?q=flaky", `document.querySelectorAll('.hit').length > 0`},
		{"#/graph?entity=DuckDB", `!!document.querySelector('#graph-canvas canvas')`},
		{"#/sql", `!!document.querySelector('.cm-content')`},
	} {
		b.goTo(pg.hash)
		b.wait(pg.hash+" at 390x844", pg.ready)
		if w := b.eval(`String(document.documentElement.scrollWidth)`); w != "390" {
			t.Errorf("%s at 390 px wide is %s px wide", pg.hash, w)
		}
		b.screenshot(shots, "09-phone-"+strings.NewReplacer("#/", "", "?", "-", "=", "-").Replace(pg.hash))
	}

	// Load times of a whole page (a new document, signed in), as the page's
	// clock measures them: recorded, and held to the second.
	b.step("back to 1280x800", chromedp.EmulateViewport(1280, 800))
	for i, pg := range []struct{ hash, ready string }{
		{"#/search", `!!document.querySelector('input[name=q]')`},
		{"#/fleet", `document.querySelectorAll('#fleet svg.spark').length === 3`},
		{"#/sql", `!!document.querySelector('.cm-content')`},
		{"#/graph?entity=DuckDB", `!!document.querySelector('#graph-canvas canvas')`},
		{"#/lake", `!!document.querySelector('#lake-jobs')`},
	} {
		d := b.loadTime(fmt.Sprintf("%s?load=%d%s", ui, i, pg.hash), pg.ready) // a new URL: a new document
		t.Logf("page load %-24s %v", pg.hash, d.Round(time.Millisecond))
		// The 1 s, with room for a loaded machine; under the race
		// detector the server is several times slower, and make bench-console
		// measures the real figure.
		if d > 2*time.Second && !raceEnabled {
			t.Errorf("%s took %v to load", pg.hash, d)
		}
	}
	if errs := b.pageErrors(); len(errs) > 0 {
		t.Errorf("the pages threw: %s", strings.Join(errs, "\n"))
	}
}

// waitForFile waits for a download to be complete at path (Chromium writes
// it under a temporary name and renames it when done), a minute at most.
func waitForFile(t *testing.T, path string) []byte {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("no download at %s after a minute", path)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
