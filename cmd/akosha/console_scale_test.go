package main

// How fast the console's pages load on a lake of many systems (issue 19: under
// 1 s on a 10,000-system lake). Not part of make test: `make bench-console`
// runs it (AKOSHA_CONSOLE_SYSTEMS=10000) and BENCHMARKS.md records its table.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestConsolePageLoadAtScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("AKOSHA_CONSOLE_SYSTEMS"))
	if n <= 0 {
		t.Skip("set AKOSHA_CONSOLE_SYSTEMS (make bench-console: 10000) to measure the console on a lake of that many systems")
	}
	perSystem := 3
	// The first keyword search reads every data file of the lake; on a busy
	// machine that can take minutes.
	defer func(d time.Duration) { stepTimeout = d }(stepTimeout)
	stepTimeout = 10 * time.Minute
	// AKOSHA_CONSOLE_LAKE keeps the lake in that folder and reuses it when
	// it already holds one, to measure again without writing it again.
	lakeDir := os.Getenv("AKOSHA_CONSOLE_LAKE")
	if lakeDir == "" {
		lakeDir = t.TempDir()
	}
	_, statErr := os.Stat(filepath.Join(lakeDir, "memories", "_delta_log"))
	reuse := statErr == nil
	p := startServerOn(t, lakeDir, (*runtime).bothServer, nil)
	up := time.Now()
	if !reuse {
		writeScaleLake(t, p, n, perSystem)
		up = time.Now() // the last commit
	}
	files := 0
	filepath.WalkDir(filepath.Join(lakeDir, "memories"), func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".parquet") {
			files++
		}
		return nil
	})

	t.Logf("lake: %d systems, %d memories in %d data files (reused: %v)", n, n*perSystem, files, reuse)

	b := newBrowser(t, 1280, 800)
	ui := p.url + "/ui/"
	b.step("sign in", chromedp.Navigate(ui+"#/search"))
	b.wait("the sign-in form", `!!document.querySelector('#token')`)
	b.step("sign in as a viewer", chromedp.SendKeys("#token", viewerKey+"\r"))
	b.wait("the search page", `!!document.querySelector('input[name=q]')`)

	pages := []struct{ name, hash, ready string }{
		{"search", "#/search", `!!document.querySelector('input[name=q]')`},
		{"search answered", "#/search?q=flaky%20clock&mode=keyword", `document.querySelectorAll('.hit').length > 0`},
		{"fleet: first rows", "#/fleet", `document.querySelectorAll('#fleet tbody tr').length === 25`},
		{"fleet: sparklines", "#/fleet", `document.querySelectorAll('#fleet svg.spark').length === 25`},
		{"sql: editor", "#/sql", `!!document.querySelector('.cm-content')`},
		{"graph", "#/graph?entity=DuckDB", `!!document.querySelector('#graph-canvas canvas') && document.querySelectorAll('#neighbours li').length === 1`},
		{"lake", "#/lake", `!!document.querySelector('#lake-tables')`},
	}
	// AKOSHA_CONSOLE_FLEET_FIRST=1 opens the fleet page first, right after
	// signing in: the first visit soon after a start (or the lake's last
	// commit), rather than after the search pages had the server for a
	// few seconds.
	if os.Getenv("AKOSHA_CONSOLE_FLEET_FIRST") != "" {
		pages = append(pages[2:4:4], append(pages[:2:2], pages[4:]...)...)
	}
	var report strings.Builder
	fmt.Fprintf(&report, "console page loads, %d systems (%d memories, %d data files), headless Chromium 1280x800\n", n, n*perSystem, files)
	fmt.Fprintf(&report, "%-20s %10s %14s\n", "page", "first", "best of next 2")
	load := 0
	for _, pg := range pages {
		if load == 0 {
			fmt.Fprintf(&report, "(the first page began %v after the server started or the lake's last commit)\n", time.Since(up).Round(10*time.Millisecond))
		}
		var d [3]time.Duration
		for i := range d {
			load++
			d[i] = b.loadTime(fmt.Sprintf("%s?load=%d%s", ui, load, pg.hash), pg.ready)
		}
		fmt.Fprintf(&report, "%-20s %10v %14v\n", pg.name, d[0].Round(time.Millisecond), min(d[1], d[2]).Round(time.Millisecond))
	}

	// The API calls behind the pages, timed on their own after the pages
	// (after the pages asked them once; GET /v1/lake reuses an answer for
	// 5 s, the others compute each time).
	viewer := http.Header{"X-Api-Key": {viewerKey}}
	var calls strings.Builder
	fmt.Fprintf(&calls, "%-44s %10s %10s %10s\n", "call", "first", "best of 3", "bytes")
	ids := make([]string, 25)
	for i := range ids {
		ids[i] = fmt.Sprintf("sys-%05d", i)
	}
	q := "group_by=system&bucket=day&window=30d&min_points=2&limit=25&system_id=" + strings.Join(ids, ",")
	for _, c := range []struct{ name, method, path, body string }{
		{"GET /v1/systems", "GET", "/v1/systems", ""},
		{"GET /v1/analytics/anomalies (25 systems)", "GET", "/v1/analytics/anomalies?" + q, ""},
		{"GET /v1/analytics/trends (25 systems)", "GET", "/v1/analytics/trends?" + q, ""},
		{"GET /v1/lake", "GET", "/v1/lake", ""},
		{"GET /v1/graph/entities?name=DuckDB", "GET", "/v1/graph/entities?name=DuckDB", ""},
		{"POST /v1/sql (the SQL page's columns)", "POST", "/v1/sql", `{"sql":"SELECT * FROM memories WHERE system_id = '.' LIMIT 0","cache":false}`},
	} {
		var first time.Duration
		best, size := time.Duration(1<<62), 0
		for i := range 3 {
			start := time.Now()
			status, _, body := p.do(t, c.method, c.path, []byte(c.body), viewer)
			if status != http.StatusOK {
				t.Fatalf("%s: %d %s", c.name, status, body)
			}
			if i == 0 {
				first = time.Since(start)
			}
			best, size = min(best, time.Since(start)), len(body)
		}
		fmt.Fprintf(&calls, "%-44s %10v %10v %10d\n", c.name, first.Round(time.Millisecond), best.Round(time.Millisecond), size)
	}

	report.WriteString("\n" + calls.String())
	b.loadTime(ui+"?load=shot#/fleet", `document.querySelectorAll('#fleet svg.spark').length === 25`)
	b.screenshot(artefactsDir(t, "console-scale"), fmt.Sprintf("fleet-%d", n))
	t.Log("\n" + report.String())
	if dir := os.Getenv("AKOSHA_FIGURES_DIR"); dir != "" {
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "console-load.txt"), []byte(report.String()), 0o644)
	}
	if errs := b.pageErrors(); len(errs) > 0 {
		t.Errorf("the pages threw: %s", strings.Join(errs, "\n"))
	}
}

// writeScaleLake ingests n systems with perSystem small records each, on one
// day per system spread over the last 30 days (a system's records share a
// partition), and a small knowledge graph.
func writeScaleLake(t *testing.T, p *process, n, perSystem int) {
	t.Helper()
	began := time.Now()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	hdr := http.Header{"X-Api-Key": {adminKey}, "Content-Type": {"application/x-ndjson"}}
	var batch strings.Builder
	lines := 0
	flush := func() {
		if lines == 0 {
			return
		}
		if status, _, out := p.do(t, http.MethodPost, "/v1/memories", []byte(batch.String()), hdr); status != http.StatusOK {
			t.Fatalf("ingest: %d %s", status, out)
		}
		batch.Reset()
		lines = 0
	}
	for i := range n {
		day := today.Add(-time.Duration(1+i%30) * 24 * time.Hour)
		for j := range perSystem {
			rec, _ := json.Marshal(map[string]any{
				"system_id": fmt.Sprintf("sys-%05d", i), "id": fmt.Sprintf("m%d", j), "kind": "memory", "project": fmt.Sprintf("p%d", i%7),
				"content": fmt.Sprintf("note %d of system %d: the flaky test was the clock", j, i), "created_at": day.Add(time.Duration(j) * time.Hour).Format(time.RFC3339),
			})
			batch.Write(rec)
			batch.WriteByte('\n')
			if lines++; lines == 1000 {
				flush()
			}
		}
	}
	flush()
	at := today.Format(time.RFC3339)
	graph := func(path, body string) {
		h := http.Header{"X-Api-Key": {adminKey}, "Content-Type": {"application/json"}}
		if status, _, out := p.do(t, http.MethodPost, path, []byte(body), h); status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, status, out)
		}
	}
	graph("/v1/entities", `{"system_id":"sys-00000","records":[{"id":"e1","name":"DuckDB","entity_type":"library","created_at":"`+at+`"},{"id":"e2","name":"Parquet","entity_type":"format","created_at":"`+at+`"}]}`)
	graph("/v1/relations", `{"system_id":"sys-00000","records":[{"id":"r1","from_entity":"e1","to_entity":"e2","relation_type":"reads","created_at":"`+at+`"}]}`)
	t.Logf("lake written in %v", time.Since(began).Round(time.Second))

}
