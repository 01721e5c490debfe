package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/sparkline"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

var cliEnd = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// analyticsLake writes ten days of three systems' memories (sys-up: 1, 2,
// ... 10 a day; sys-flat: 4 a day; sys-spike: 2 a day but 20 on the
// seventh) and a small graph across two systems.
func analyticsLake(t *testing.T) (string, *lake.Lake) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AKOSHA_CACHE_DIR", t.TempDir())
	s, _ := storage.NewLocal(dir)
	ctx := context.Background()
	l, err := lake.Open(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	start := cliEnd.AddDate(0, 0, -10)
	var recs []schemas.Memory
	add := func(sys string, counts []int) {
		for d, c := range counts {
			for j := range c {
				recs = append(recs, schemas.Memory{SystemID: sys, ID: fmt.Sprintf("%d-%d", d, j), Content: "x",
					CreatedAt: start.AddDate(0, 0, d).Add(time.Duration(j+1) * time.Minute)})
			}
		}
	}
	add("sys-up", []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	add("sys-flat", []int{4, 4, 4, 4, 4, 4, 4, 4, 4, 4})
	add("sys-spike", []int{2, 2, 2, 2, 2, 2, 20, 2, 2, 2})
	if _, err := l.AppendMemories(ctx, recs); err != nil {
		t.Fatal(err)
	}
	at := start
	ents := []schemas.Entity{
		{SystemID: "s1", ID: "e-akosha", Name: "Akosha", EntityType: "project", Observations: []string{"pools memories"}, CreatedAt: at},
		{SystemID: "s1", ID: "e-duckdb", Name: "DuckDB", EntityType: "tool", CreatedAt: at},
		{SystemID: "s2", ID: "ent-duck", Name: "duckdb", EntityType: "library", CreatedAt: at},
		{SystemID: "s2", ID: "ent-arrow", Name: "Arrow", EntityType: "format", CreatedAt: at},
	}
	rels := []schemas.Relation{
		{SystemID: "s1", ID: "r1", FromEntity: "Akosha", ToEntity: "DuckDB", RelationType: "uses", CreatedAt: at},
		{SystemID: "s2", ID: "q1", FromEntity: "ent-arrow", ToEntity: "ent-duck", RelationType: "feeds", CreatedAt: at},
	}
	if _, err := l.AppendEntities(ctx, ents); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendRelations(ctx, rels); err != nil {
		t.Fatal(err)
	}
	return dir, l
}

// lineOf returns the output line starting with prefix.
func lineOf(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// fieldsLine returns the output line whose words start with prefix's,
// with single spaces: table columns without their padding.
func fieldsLine(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if l = strings.Join(strings.Fields(l), " "); strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func TestCLIAnalytics(t *testing.T) {
	dir, _ := analyticsLake(t)
	window := []string{"--lake", dir, "--end", "2026-11-01", "--window", "10d"}

	out, err := run(t, append([]string{"analytics", "trends"}, window...)...)
	if err != nil {
		t.Fatalf("trends: %v\n%s", err, out)
	}
	// Not a terminal: the series as numbers.
	if !strings.Contains(out, "records per day by system, 2026-10-22T00:00:00Z .. 2026-11-01T00:00:00Z (10 buckets)") ||
		strings.Join(strings.Fields(lineOf(out, "sys-up")), " ") != "sys-up up +1 1.0000 0 +900.0% 55 1 2 3 4 5 6 7 8 9 10" ||
		strings.Join(strings.Fields(lineOf(out, "sys-flat")), " ") != "sys-flat flat +0 - - +0.0% 40 4 4 4 4 4 4 4 4 4 4" {
		t.Errorf("trends:\n%s", out)
	}
	// Charts when asked (on a terminal by default).
	out, err = run(t, append([]string{"analytics", "trends", "--chart", "always", "--system", "sys-up"}, window...)...)
	if spark := sparkline.Line([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}); err != nil || !strings.HasSuffix(lineOf(out, "sys-up"), spark) || lineOf(out, "sys-flat") != "" {
		t.Errorf("trends --chart always: %v\n%s", err, out)
	}
	// JSON is the API's answer.
	out, err = run(t, append([]string{"analytics", "trends", "--format", "json", "--bucket", "hour", "--window", "48h"}, window[:4]...)...)
	var tr query.TrendsResponse
	if err != nil || json.Unmarshal([]byte(out), &tr) != nil || tr.Buckets != 48 || tr.Bucket != "hour" {
		t.Errorf("trends json: %v\n%s", err, out)
	}

	out, err = run(t, append([]string{"analytics", "anomalies", "--threshold", "2.5"}, window...)...)
	// sys-spike: mean 3.8, sample sd 5.692..., the 20 is z = +2.846.
	if err != nil || !strings.Contains(out, "|z| > 2.5") || !strings.Contains(strings.Join(strings.Fields(out), " "), "2026-10-28T00:00:00Z 20 z=+2.85 spike") ||
		!strings.Contains(out, "(1 anomalies)") {
		t.Errorf("anomalies: %v\n%s", err, out)
	}

	out, err = run(t, append([]string{"analytics", "correlations", "--min-abs", "0"}, window...)...)
	// sys-flat is constant; sys-up against sys-spike, r from the definition.
	up := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	spike := []float64{2, 2, 2, 2, 2, 2, 20, 2, 2, 2}
	if err != nil || !strings.Contains(out, fmt.Sprintf("sys-spike  sys-up  %+.4f  10", pearsonOf(up, spike))) ||
		!strings.Contains(out, "excluded sys-flat: constant series") || !strings.Contains(out, "(1 of 1 pairs)") {
		t.Errorf("correlations: %v\n%s", err, out)
	}

	// Bad parameters are usage errors (exit 2), caught by the same
	// validation as the API's.
	for _, args := range [][]string{
		{"analytics", "trends", "--lake", dir, "--bucket", "week"},
		{"analytics", "anomalies", "--lake", dir, "--threshold", "-1"},
		{"analytics", "trends", "--lake", dir, "--system", "' OR 1=1 --"},
		{"analytics", "trends", "--lake", dir, "--format", "xml"},
		{"graph", "path", "--lake", dir, "Akosha", "Arrow", "--max-hops", "0"},
		{"graph", "entity", "--lake", dir, "s1"},
	} {
		_, err := run(t, args...)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

func pearsonOf(xs, ys []float64) float64 {
	var mx, my float64
	for i := range xs {
		mx, my = mx+xs[i], my+ys[i]
	}
	mx, my = mx/float64(len(xs)), my/float64(len(ys))
	var sxy, sxx, syy float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
		syy += (ys[i] - my) * (ys[i] - my)
	}
	return sxy / math.Sqrt(sxx*syy)
}

func TestCLIGraph(t *testing.T) {
	dir, _ := analyticsLake(t)
	out, err := run(t, "graph", "entity", "--lake", dir, "s1", "e-duckdb")
	if err != nil || !strings.Contains(out, `DuckDB (tool) s1/e-duckdb, node "duckdb"`) || !strings.Contains(out, "same name in: s2/ent-duck (library)") ||
		fieldsLine(out, "in <- feeds") != "in <- feeds Arrow s2/ent-arrow (format) s2/q1" ||
		fieldsLine(out, "in <- uses") != "in <- uses Akosha s1/e-akosha (project) s1/r1" ||
		!strings.Contains(out, "(2 neighbours)") {
		t.Errorf("graph entity:\n%v\n%s", err, out)
	}
	out, err = run(t, "graph", "entity", "--lake", dir, "--name", "AKOSHA")
	// The relation names DuckDB in s1: s1's entity, not s2's duckdb.
	if err != nil || !strings.Contains(out, "  - pools memories") || fieldsLine(out, "out -> uses") != "out -> uses DuckDB s1/e-duckdb (tool) s1/r1" {
		t.Errorf("graph entity --name:\n%v\n%s", err, out)
	}
	out, err = run(t, "graph", "path", "--lake", dir, "Akosha", "s2/ent-arrow")
	want := "Akosha (s1/e-akosha, project)\n   | -uses->  (s1/r1)\nDuckDB (s1/e-duckdb, tool)\n   | <-feeds-  (s2/q1)\nArrow (s2/ent-arrow, format)\n(2 hops)\n"
	if err != nil || out != want {
		t.Errorf("graph path: %v\n%s\nwant\n%s", err, out, want)
	}
	out, err = run(t, "graph", "path", "--lake", dir, "Akosha", "Arrow", "--max-hops", "1")
	if err != nil || out != "no path from \"akosha\" to \"arrow\" within 1 hops\n" {
		t.Errorf("graph path, too far: %v %q", err, out)
	}
	if _, err := run(t, "graph", "path", "--lake", dir, "Akosha", "Nowhere"); err == nil || !strings.Contains(err.Error(), `no entity or relation end "Nowhere"`) {
		t.Errorf("graph path to nothing: %v", err)
	}
}

// With --url the commands ask a running server and print the same.
func TestCLIAnalyticsOverHTTP(t *testing.T) {
	dir, l := analyticsLake(t)
	a, _ := auth.New(auth.Config{Disabled: true})
	f, err := query.Open(l, a, query.Config{CacheDir: t.TempDir()}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop(context.Background())
	srv := httptest.NewServer(http.HandlerFunc(f.Handle))
	defer srv.Close()
	for _, args := range [][]string{
		{"analytics", "trends", "--end", "2026-11-01", "--window", "10d", "--system", "sys-up,sys-flat"},
		{"analytics", "anomalies", "--end", "2026-11-01", "--window", "10d", "--threshold", "2"},
		{"analytics", "correlations", "--end", "2026-11-01", "--window", "10d", "--min-abs", "0.1"},
		{"graph", "entity", "s2", "ent-duck", "--direction", "in"},
		{"graph", "entity", "--name", "arrow"},
		{"graph", "path", "s2/ent-arrow", "Akosha", "--directed"},
	} {
		local, err := run(t, append(args, "--lake", dir)...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		remote, err := run(t, append(args, "--url", srv.URL)...)
		if err != nil || remote != local {
			t.Errorf("%v over HTTP: %v\n%s\nwant\n%s", args, err, remote, local)
		}
	}
	// Errors keep their message; a 400 is a usage error.
	_, err = run(t, "analytics", "trends", "--url", srv.URL, "--window", "0d")
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "window 0d") || !strings.Contains(err.Error(), "400 invalid_window") {
		t.Errorf("bad window over HTTP: %v", err)
	}
	if _, err := run(t, "graph", "entity", "--url", srv.URL, "s1", "e-nope"); err == nil || !strings.Contains(err.Error(), "404 not_found") {
		t.Errorf("unknown entity over HTTP: %v", err)
	}
}
