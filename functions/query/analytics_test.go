package query_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/stats"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// The expected figures below are computed here, in plain Go, from the
// counts the test wrote: least squares by its normal equations and R² as
// 1 - SSres/SStot (DuckDB's regr_r2 goes through corr² instead), z-scores
// from the mean and sample deviation, Pearson's r from its definition.

const tol = 1e-9

func near(a, b float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

func leastSquares(ys []float64) (slope, intercept, r2 float64) {
	n := float64(len(ys))
	var sx, sy, sxx, sxy float64
	for i, y := range ys {
		x := float64(i)
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	slope = (n*sxy - sx*sy) / (n*sxx - sx*sx)
	intercept = (sy - slope*sx) / n
	mean := sy / n
	var res, tot float64
	for i, y := range ys {
		fit := intercept + slope*float64(i)
		res += (y - fit) * (y - fit)
		tot += (y - mean) * (y - mean)
	}
	return slope, intercept, 1 - res/tot
}

// slopeP is the two-sided p-value of a least-squares slope with R² r2
// over n points: t = sqrt(R² (n-2) / (1-R²)) with n-2 degrees of freedom.
func slopeP(r2 float64, n int) float64 {
	if r2 >= 1-1e-15 {
		return 0
	}
	return stats.StudentTwoSided(math.Sqrt(r2*float64(n-2)/(1-r2)), float64(n-2))
}

func meanSD(ys []float64) (mean, sd float64) {
	for _, y := range ys {
		mean += y
	}
	mean /= float64(len(ys))
	for _, y := range ys {
		sd += (y - mean) * (y - mean)
	}
	return mean, math.Sqrt(sd / float64(len(ys)-1))
}

func pearson(xs, ys []float64) float64 {
	mx, _ := meanSD(xs)
	my, _ := meanSD(ys)
	var sxy, sxx, syy float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
		syy += (ys[i] - my) * (ys[i] - my)
	}
	return sxy / math.Sqrt(sxx*syy)
}

// series writes counts[i] memories of sys into bucket i of a window
// starting at start, spread inside each bucket, and returns them.
func series(sys string, start time.Time, bucket time.Duration, counts []int, mod func(i, j int, m *schemas.Memory)) []schemas.Memory {
	var out []schemas.Memory
	for i, c := range counts {
		for j := range c {
			m := schemas.Memory{
				SystemID: sys, ID: fmt.Sprintf("%s-%d-%d", sys, i, j), Content: "x",
				CreatedAt: start.Add(time.Duration(i)*bucket + time.Duration(j+1)*bucket/time.Duration(c+1)),
			}
			if mod != nil {
				mod(i, j, &m)
			}
			out = append(out, m)
		}
	}
	return out
}

func floats(ints []int) []float64 {
	out := make([]float64, len(ints))
	for i, v := range ints {
		out[i] = float64(v)
	}
	return out
}

func getJSON[T any](t *testing.T, p *process, path string, v url.Values) (int, T, string) {
	t.Helper()
	u := p.url + path
	if len(v) > 0 {
		u += "?" + v.Encode()
	}
	st, _, body := do(t, "GET", u, nil, nil)
	var out T
	if st == 200 {
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("GET %s: %v: %s", u, err, body)
		}
	}
	return st, out, string(body)
}

func values(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func findSeries[S any](t *testing.T, list []S, key func(S) string, want string) S {
	t.Helper()
	for _, s := range list {
		if key(s) == want {
			return s
		}
	}
	t.Fatalf("no series %q", want)
	var zero S
	return zero
}

// Ten days ending (exclusive) at 2026-11-01.
var (
	trendEnd   = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	trendStart = trendEnd.AddDate(0, 0, -10)
	day        = 24 * time.Hour

	countsUp    = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	countsNoisy = []int{5, 3, 8, 2, 0, 7, 4, 4, 9, 1}
	countsFlat  = []int{4, 4, 4, 4, 4, 4, 4, 4, 4, 4}
	countsDown  = []int{20, 18, 18, 15, 13, 12, 9, 9, 6, 2}
)

// trendLake writes the trend fixtures: sys-up, sys-noisy, sys-flat,
// sys-down, sys-one (a single record) and records just outside the window.
func trendLake(t *testing.T, s storage.Store) *process {
	p := startProcess(t, s, query.Config{})
	var recs []schemas.Memory
	recs = append(recs, series("sys-up", trendStart, day, countsUp, func(i, j int, m *schemas.Memory) {
		// Two projects, one with a quote in its name, and two kinds.
		m.Project = "alpha"
		if j%2 == 1 {
			m.Project = "bob's"
		}
		m.Kind = schemas.KindMemory
		if i < 5 {
			m.Kind = schemas.KindReflection
		}
	})...)
	recs = append(recs, series("sys-noisy", trendStart, day, countsNoisy, nil)...)
	recs = append(recs, series("sys-flat", trendStart, day, countsFlat, nil)...)
	recs = append(recs, series("sys-down", trendStart, day, countsDown, nil)...)
	recs = append(recs, schemas.Memory{SystemID: "sys-one", ID: "only", Content: "x", CreatedAt: trendStart.Add(3*day + time.Hour)})
	// The window is [start, end): these are outside, by a microsecond and
	// exactly at the end.
	recs = append(recs,
		schemas.Memory{SystemID: "sys-up", ID: "before", Content: "x", CreatedAt: trendStart.Add(-time.Microsecond)},
		schemas.Memory{SystemID: "sys-up", ID: "at-end", Content: "x", CreatedAt: trendEnd},
		schemas.Memory{SystemID: "sys-late", ID: "late", Content: "x", CreatedAt: trendEnd.Add(time.Hour)},
	)
	// And one exactly at the start, which is inside: sys-up's first bucket
	// holds it in place of its generated record.
	recs[0].CreatedAt = trendStart
	if _, err := p.lake.AppendMemories(ctxT(t), recs); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAnalyticsTrends(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		p := trendLake(t, s)
		st, a, body := getJSON[query.TrendsResponse](t, p, "/v1/analytics/trends", values("end", "2026-11-01", "window", "10d"))
		if st != 200 {
			t.Fatalf("trends: %d %s", st, body)
		}
		if a.Status != "ok" || a.Metric != "records" || a.GroupBy != "system" || a.Bucket != "day" || a.Buckets != 10 ||
			a.From != "2026-10-22T00:00:00Z" || a.To != "2026-11-01T00:00:00Z" || a.SeriesTotal != 5 || a.Truncated {
			t.Fatalf("answer: %+v", a.Window)
		}
		// Ordered by total, then key.
		var keys []string
		for _, s := range a.Series {
			keys = append(keys, s.Key)
		}
		if want := []string{"sys-down", "sys-up", "sys-noisy", "sys-flat", "sys-one"}; !slices.Equal(keys, want) {
			t.Fatalf("series %v, want %v", keys, want)
		}
		key := func(s query.TrendSeries) string { return s.Key }
		for _, c := range []struct {
			key    string
			counts []int
			dir    string
		}{
			{"sys-up", countsUp, "up"},
			// Noise: the fitted change over the window (-0.055) is under 5%
			// of the mean (0.215), so no direction is claimed.
			{"sys-noisy", countsNoisy, "flat"},
			{"sys-down", countsDown, "down"},
		} {
			s := findSeries(t, a.Series, key, c.key)
			ys := floats(c.counts)
			slope, intercept, r2 := leastSquares(ys)
			if s.Status != "ok" || s.Slope == nil || s.R2 == nil || s.Intercept == nil || s.PercentChange == nil || s.Direction == nil {
				t.Fatalf("%s: %+v", c.key, s)
			}
			pct := 100 * slope * 9 / intercept
			if !near(*s.Slope, slope) || !near(*s.Intercept, intercept) || !near(*s.R2, r2) || !near(*s.PercentChange, pct) {
				t.Errorf("%s: slope %v intercept %v r2 %v pct %v, want %v %v %v %v", c.key, *s.Slope, *s.Intercept, *s.R2, *s.PercentChange, slope, intercept, r2, pct)
			}
			if *s.Direction != c.dir {
				t.Errorf("%s: direction %s, want %s", c.key, *s.Direction, c.dir)
			}
			if want := slopeP(r2, 10); s.PValue == nil || !near(*s.PValue, want) {
				t.Errorf("%s: p_value %v, want %v", c.key, s.PValue, want)
			}
			var got []float64
			for i, pt := range s.Points {
				got = append(got, pt.Value)
				if want := trendStart.Add(time.Duration(i) * day).Format(time.RFC3339); pt.T != want {
					t.Errorf("%s point %d at %s, want %s", c.key, i, pt.T, want)
				}
			}
			if !slices.Equal(got, ys) {
				t.Errorf("%s points %v, want %v", c.key, got, ys)
			}
			total := 0.0
			for _, y := range ys {
				total += y
			}
			if s.Total != total || !near(s.Mean, total/10) {
				t.Errorf("%s: total %v mean %v", c.key, s.Total, s.Mean)
			}
		}
		// sys-up is exact: one more per day, from 1.
		if up := findSeries(t, a.Series, key, "sys-up"); !near(*up.Slope, 1) || !near(*up.Intercept, 1) || !near(*up.R2, 1) || !near(*up.PercentChange, 900) {
			t.Errorf("sys-up: %s", mustJSON(up))
		}
		// Flat: slope 0, no R², direction flat, no change.
		flat := findSeries(t, a.Series, key, "sys-flat")
		if flat.Status != "ok" || flat.Slope == nil || *flat.Slope != 0 || flat.R2 != nil || flat.Direction == nil || *flat.Direction != "flat" ||
			flat.PercentChange == nil || *flat.PercentChange != 0 || flat.Mean != 4 || flat.PValue != nil {
			t.Errorf("flat: %s", mustJSON(flat))
		}
		// One record: insufficient, and no guesses.
		one := findSeries(t, a.Series, key, "sys-one")
		if one.Status != "insufficient_data" || one.Slope != nil || one.R2 != nil || one.Direction != nil || one.PercentChange != nil ||
			one.ActiveBuckets != 1 || one.Total != 1 || !strings.Contains(one.Message, "min_points") || one.Points[3].Value != 1 {
			t.Errorf("one point: %s", mustJSON(one))
		}
		// The raw JSON says null, not 0.
		if !strings.Contains(body, `"key":"sys-one","status":"insufficient_data"`) || !strings.Contains(body, `"slope":null,"intercept":null,"r2":null,"percent_change":null,"p_value":null,"direction":null`) {
			t.Errorf("the insufficient series is not all nulls in JSON")
		}
	})
}

// A trend has a direction only when its slope is significant and large:
// one outlier makes a slope, not a trend.
func TestAnalyticsTrendDirection(t *testing.T) {
	p := startProcess(t, testenv.Local(t), query.Config{})
	end := time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)
	start := end.AddDate(0, 0, -14)
	cases := map[string]struct {
		counts []int
		dir    string
	}{
		// -19.6% fitted, but R² 0.013 (p 0.69): flat.
		"outlier": {[]int{9, 8, 9, 7, 8, 30, 8, 9, 7, 8, 9, 8, 7, 9}, "flat"},
		"rise":    {[]int{10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15, 16, 16}, "up"},
		"fall":    {[]int{16, 16, 15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10}, "down"},
		// Significant (p < 0.05) but 1.5% of the mean over the window: flat.
		"creep": {[]int{100, 100, 100, 100, 100, 100, 100, 101, 101, 101, 101, 101, 101, 101}, "flat"},
	}
	var recs []schemas.Memory
	for sys, c := range cases {
		recs = append(recs, series(sys, start, day, c.counts, nil)...)
	}
	if _, err := p.lake.AppendMemories(ctxT(t), recs); err != nil {
		t.Fatal(err)
	}
	_, a, body := getJSON[query.TrendsResponse](t, p, "/v1/analytics/trends", values("window", "14d", "end", "2026-11-15"))
	if len(a.Series) != 4 {
		t.Fatalf("trends: %s", body)
	}
	for _, s := range a.Series {
		c := cases[s.Key]
		ys := floats(c.counts)
		slope, _, r2 := leastSquares(ys)
		mean, _ := meanSD(ys)
		pv := slopeP(r2, 14)
		// The rule, applied here to the independent figures.
		want := "flat"
		if pv < 0.05 && math.Abs(slope*13) >= 0.05*mean {
			want = map[bool]string{true: "up", false: "down"}[slope > 0]
		}
		if want != c.dir {
			t.Fatalf("%s: the fixture is wrong: the rule says %s (p %v, change %v)", s.Key, want, pv, slope*13)
		}
		if s.Direction == nil || *s.Direction != c.dir || s.PValue == nil || !near(*s.PValue, pv) || !near(*s.R2, r2) {
			t.Errorf("%s: direction %v p %v, want %s p %v", s.Key, s.Direction, s.PValue, c.dir, pv)
		}
	}
	// Two buckets: a line fits any two points, so no trend.
	_, a, _ = getJSON[query.TrendsResponse](t, p, "/v1/analytics/trends", values("window", "2d", "end", "2026-11-15", "min_points", "2"))
	if a.Status != "insufficient_data" || a.Series[0].Slope != nil || !strings.Contains(a.Series[0].Message, "at least 3") {
		t.Errorf("two buckets: %s", mustJSON(a))
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestAnalyticsTrendsFilters(t *testing.T) {
	p := trendLake(t, testenv.Local(t))
	trends := func(kv ...string) query.TrendsResponse {
		t.Helper()
		v := values("end", "2026-11-01T00:00:00Z", "window", "10d")
		given := map[string]bool{}
		for i := 0; i+1 < len(kv); i += 2 {
			if !given[kv[i]] {
				v.Del(kv[i]) // replace a default
				given[kv[i]] = true
			}
			v.Add(kv[i], kv[i+1])
		}
		st, a, body := getJSON[query.TrendsResponse](t, p, "/v1/analytics/trends", v)
		if st != 200 {
			t.Fatalf("%v: %d %s", kv, st, body)
		}
		return a
	}
	key := func(s query.TrendSeries) string { return s.Key }
	// By project, within one system: alpha has the even records of each
	// day (j = 0, 2, ...), bob's the odd ones.
	a := trends("group_by", "project", "system_id", "sys-up")
	alpha, bob := make([]int, 10), make([]int, 10)
	for i, c := range countsUp {
		alpha[i], bob[i] = (c+1)/2, c/2
	}
	for name, counts := range map[string][]int{"alpha": alpha, "bob's": bob} {
		s := findSeries(t, a.Series, key, name)
		slope, _, r2 := leastSquares(floats(counts))
		if !near(*s.Slope, slope) || !near(*s.R2, r2) {
			t.Errorf("project %s: slope %v r2 %v, want %v %v", name, *s.Slope, *s.R2, slope, r2)
		}
	}
	// A project with a quote, as a filter: quoted, not spliced.
	a = trends("project", "bob's")
	if len(a.Series) != 1 || a.Series[0].Key != "sys-up" || a.Series[0].Total != 25 {
		t.Errorf("project bob's: %s", mustJSON(a.Series))
	}
	a = trends("project", "' OR 1=1 --")
	if len(a.Series) != 0 || a.Status != "insufficient_data" || a.Message != "no data in the window" {
		t.Errorf("injection in project: %s", mustJSON(a))
	}
	// Kinds: sys-up's first five days are reflections.
	a = trends("kind", "reflection")
	if len(a.Series) != 1 || a.Series[0].Total != 15 || a.Series[0].Points[5].Value != 0 {
		t.Errorf("kind reflection: %s", mustJSON(a.Series))
	}
	// Systems, repeated and comma-separated; limit keeps the most active.
	a = trends("system_id", "sys-flat,sys-noisy", "system_id", "sys-one")
	if len(a.Series) != 3 || a.SeriesTotal != 3 {
		t.Errorf("system filter: %d series", len(a.Series))
	}
	a = trends("limit", "2")
	if len(a.Series) != 2 || a.Series[0].Key != "sys-down" || a.Series[1].Key != "sys-up" || a.SeriesTotal != 5 || !a.Truncated {
		t.Errorf("limit 2: %d series, total %d, truncated %v", len(a.Series), a.SeriesTotal, a.Truncated)
	}
	// The fleet as one series: the sum of the others.
	a = trends("group_by", "none")
	sum := make([]float64, 10)
	for _, c := range [][]int{countsUp, countsNoisy, countsFlat, countsDown} {
		for i, v := range c {
			sum[i] += float64(v)
		}
	}
	sum[3]++ // sys-one
	slope, intercept, r2 := leastSquares(sum)
	if len(a.Series) != 1 || a.Series[0].Key != "all" || !near(*a.Series[0].Slope, slope) || !near(*a.Series[0].Intercept, intercept) || !near(*a.Series[0].R2, r2) {
		t.Errorf("group_by none: %s", mustJSON(a.Series))
	}
	// min_points 1 is refused; 2 lets a two-bucket series through.
	if st, _, _ := getJSON[query.TrendsResponse](t, p, "/v1/analytics/trends", values("min_points", "1")); st != 400 {
		t.Errorf("min_points 1: %d", st)
	}
	// A window of one bucket: every series is a single point.
	a = trends("window", "1d", "end", "2026-10-26")
	if a.Status != "insufficient_data" || len(a.Series) == 0 {
		t.Errorf("one bucket: %s", mustJSON(a))
	}
	for _, s := range a.Series {
		if s.Status != "insufficient_data" || len(s.Points) != 1 || s.Points[0].T != "2026-10-25T00:00:00Z" {
			t.Errorf("one bucket: %s", mustJSON(s))
		}
	}
	// end in the middle of a day is rounded down to the day.
	a = trends("end", "2026-11-01T13:45:00Z")
	if a.To != "2026-11-01T00:00:00Z" || a.From != "2026-10-22T00:00:00Z" {
		t.Errorf("end rounding: %s .. %s", a.From, a.To)
	}
	// No data at all: a clear answer.
	a = trends("end", "2025-01-01")
	if a.Status != "insufficient_data" || len(a.Series) != 0 || a.Message == "" {
		t.Errorf("empty window: %s", mustJSON(a))
	}
}

func TestAnalyticsHourlyAndMetrics(t *testing.T) {
	p := startProcess(t, testenv.Local(t), query.Config{})
	end := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	start := end.Add(-12 * time.Hour)
	counts := []int{0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 0, 2}
	if _, err := p.lake.AppendMemories(ctxT(t), series("hourly", start, time.Hour, counts, nil)); err != nil {
		t.Fatal(err)
	}
	// Entities and relations: one a day, for three days, then two.
	var ents []schemas.Entity
	var rels []schemas.Relation
	eCounts := []int{1, 1, 1, 2}
	for d, c := range eCounts {
		for j := range c {
			at := end.AddDate(0, 0, -4+d).Add(time.Duration(j+1) * time.Hour)
			ents = append(ents, schemas.Entity{SystemID: "g1", ID: fmt.Sprintf("e%d-%d", d, j), Name: "n", EntityType: "t", CreatedAt: at})
			rels = append(rels, schemas.Relation{SystemID: "g1", ID: fmt.Sprintf("r%d-%d", d, j), FromEntity: "a", ToEntity: "b", RelationType: "r", CreatedAt: at})
		}
	}
	if _, err := p.lake.AppendEntities(ctxT(t), ents); err != nil {
		t.Fatal(err)
	}
	if _, err := p.lake.AppendRelations(ctxT(t), rels[:3]); err != nil { // relations: the last day's two are missing
		t.Fatal(err)
	}
	st, a, body := getJSON[query.TrendsResponse](t, p, "/v1/analytics/trends", values("bucket", "hour", "window", "12h", "end", end.Format(time.RFC3339)))
	if st != 200 || len(a.Series) != 1 || a.Buckets != 12 {
		t.Fatalf("hourly: %d %s", st, body)
	}
	slope, intercept, r2 := leastSquares(floats(counts))
	s := a.Series[0]
	if !near(*s.Slope, slope) || !near(*s.Intercept, intercept) || !near(*s.R2, r2) || s.Points[11].T != "2026-11-19T23:00:00Z" || s.Points[9].Value != 34 {
		t.Errorf("hourly: %s", mustJSON(s))
	}
	// The default hourly window is 48 hours.
	if _, a, _ := getJSON[query.TrendsResponse](t, p, "/v1/analytics/trends", values("bucket", "hour", "end", end.Format(time.RFC3339))); a.Buckets != 48 || a.Window.Window != "48h" {
		t.Errorf("default hourly window: %+v", a.Window)
	}
	for metric, want := range map[string][]int{"entities": eCounts, "relations": {1, 1, 1, 0}} {
		st, a, body := getJSON[query.TrendsResponse](t, p, "/v1/analytics/trends", values("metric", metric, "window", "4d", "end", end.Format(time.RFC3339), "min_points", "2"))
		if st != 200 || len(a.Series) != 1 || a.Series[0].Key != "g1" {
			t.Fatalf("%s: %d %s", metric, st, body)
		}
		slope, intercept, _ := leastSquares(floats(want))
		var got []float64
		for _, pt := range a.Series[0].Points {
			got = append(got, pt.Value)
		}
		if !slices.Equal(got, floats(want)) || !near(*a.Series[0].Slope, slope) || !near(*a.Series[0].Intercept, intercept) {
			t.Errorf("%s: points %v slope %v", metric, got, *a.Series[0].Slope)
		}
	}
}

func TestAnalyticsAnomalies(t *testing.T) {
	p := startProcess(t, testenv.Local(t), query.Config{})
	end := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	start := end.AddDate(0, 0, -20)
	spiky := []int{5, 5, 6, 4, 5, 5, 5, 6, 4, 5, 30, 5, 5, 6, 4, 5, 5, 5, 6, 4}
	dropping := []int{10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 0, 10, 10, 10, 10, 10}
	steady := []int{3, 4, 3, 4, 3, 4, 3, 4, 3, 4, 3, 4, 3, 4, 3, 4, 3, 4, 3, 4}
	flat := slices.Repeat([]int{2}, 20)
	var recs []schemas.Memory
	for sys, c := range map[string][]int{"spiky": spiky, "dropping": dropping, "steady": steady, "flat": flat} {
		recs = append(recs, series(sys, start, day, c, nil)...)
	}
	recs = append(recs, schemas.Memory{SystemID: "single", ID: "x", Content: "x", CreatedAt: start.Add(day)})
	if _, err := p.lake.AppendMemories(ctxT(t), recs); err != nil {
		t.Fatal(err)
	}
	check := func(threshold float64) query.AnomaliesResponse {
		t.Helper()
		st, a, body := getJSON[query.AnomaliesResponse](t, p, "/v1/analytics/anomalies",
			values("window", "20d", "end", "2026-11-21", "threshold", fmt.Sprint(threshold)))
		if st != 200 {
			t.Fatalf("anomalies: %d %s", st, body)
		}
		if a.Threshold != threshold || a.Status != "ok" || len(a.Series) != 5 {
			t.Fatalf("anomalies: %s", body)
		}
		key := func(s query.AnomalySeries) string { return s.Key }
		count := 0
		for sys, c := range map[string][]int{"spiky": spiky, "dropping": dropping, "steady": steady} {
			s := findSeries(t, a.Series, key, sys)
			ys := floats(c)
			mean, sd := meanSD(ys)
			if s.Status != "ok" || s.Mean == nil || s.Stddev == nil || !near(*s.Mean, mean) || !near(*s.Stddev, sd) {
				t.Errorf("%s: mean %v sd %v, want %v %v", sys, s.Mean, s.Stddev, mean, sd)
				continue
			}
			var want []query.Anomaly
			for i, y := range ys {
				if z := (y - mean) / sd; math.Abs(z) > threshold {
					kind := "spike"
					if z < 0 {
						kind = "drop"
					}
					want = append(want, query.Anomaly{T: start.AddDate(0, 0, i).Format(time.RFC3339), Value: y, Z: z, Kind: kind})
				}
			}
			if len(s.Anomalies) != len(want) {
				t.Errorf("%s at %v: anomalies %s, want %s", sys, threshold, mustJSON(s.Anomalies), mustJSON(want))
				continue
			}
			for i := range want {
				g := s.Anomalies[i]
				if g.T != want[i].T || g.Value != want[i].Value || g.Kind != want[i].Kind || !near(g.Z, want[i].Z) {
					t.Errorf("%s anomaly %d: %+v, want %+v", sys, i, g, want[i])
				}
			}
			count += len(want)
		}
		if a.AnomalyCount != count {
			t.Errorf("anomaly_count %d, want %d", a.AnomalyCount, count)
		}
		// Flat: a standard deviation of zero scores nothing.
		f := findSeries(t, a.Series, key, "flat")
		if f.Status != "ok" || f.Stddev == nil || *f.Stddev != 0 || len(f.Anomalies) != 0 || f.Message == "" {
			t.Errorf("flat: %s", mustJSON(f))
		}
		one := findSeries(t, a.Series, key, "single")
		if one.Status != "insufficient_data" || one.Mean != nil || len(one.Anomalies) != 0 {
			t.Errorf("single: %s", mustJSON(one))
		}
		return a
	}
	// At 3: the spike (z ≈ 4.220) and the drop (z ≈ -4.249), nothing else.
	if a := check(3); a.AnomalyCount != 2 {
		t.Errorf("threshold 3: %d anomalies", a.AnomalyCount)
	}
	// steady's values sit at |z| ≈ 0.975: at 0.9 every point of it fires.
	if a := check(0.9); a.AnomalyCount != 2+20 {
		t.Errorf("threshold 0.9: %d anomalies", a.AnomalyCount)
	}
	// Between the spike's |z| and the drop's: only the drop.
	if a := check(4.23); a.AnomalyCount != 1 {
		t.Errorf("threshold 4.23: %d anomalies", a.AnomalyCount)
	}
	if a := check(50); a.AnomalyCount != 0 {
		t.Errorf("threshold 50: %d anomalies", a.AnomalyCount)
	}
}

func TestAnalyticsCorrelations(t *testing.T) {
	p := startProcess(t, testenv.Local(t), query.Config{})
	end := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	start := end.Add(-24 * time.Hour)
	base := []int{1, 3, 2, 5, 4, 6, 8, 7, 9, 12, 10, 11, 3, 2, 4, 1, 0, 2, 5, 7, 6, 9, 8, 10}
	double := make([]int, 24) // 2x + 1: r = 1
	mirror := make([]int, 24) // 12 - x: r = -1
	for i, x := range base {
		double[i], mirror[i] = 2*x+1, 12-x
	}
	noise := []int{4, 1, 7, 3, 3, 9, 0, 2, 6, 5, 1, 8, 2, 7, 4, 4, 6, 1, 0, 9, 3, 5, 2, 6}
	flat := slices.Repeat([]int{3}, 24)
	sparse := make([]int, 24)
	sparse[5] = 1
	all := map[string][]int{"base": base, "double": double, "mirror": mirror, "noise": noise, "flat": flat, "sparse": sparse}
	var recs []schemas.Memory
	for sys, c := range all {
		recs = append(recs, series(sys, start, time.Hour, c, nil)...)
	}
	if _, err := p.lake.AppendMemories(ctxT(t), recs); err != nil {
		t.Fatal(err)
	}
	st, a, body := getJSON[query.CorrelationsResponse](t, p, "/v1/analytics/correlations",
		values("bucket", "hour", "window", "24h", "end", end.Format(time.RFC3339), "min_abs", "0", "alpha", "0.01"))
	if st != 200 || a.Status != "ok" {
		t.Fatalf("correlations: %d %s", st, body)
	}
	usable := []string{"base", "double", "mirror", "noise"}
	if got := slices.Sorted(slices.Values(a.Series)); !slices.Equal(got, usable) {
		t.Errorf("series %v, want %v", got, usable)
	}
	if len(a.Excluded) != 2 || !strings.Contains(a.Excluded["flat"], "constant") || !strings.Contains(a.Excluded["sparse"], "min_points") {
		t.Errorf("excluded: %v", a.Excluded)
	}
	if a.PairsChecked != 6 || len(a.Pairs) != 6 {
		t.Fatalf("pairs: checked %d, returned %d", a.PairsChecked, len(a.Pairs))
	}
	// Every pair, checked against r from the definition; strongest first.
	prev := 2.0
	for _, pr := range a.Pairs {
		want := pearson(floats(all[pr.A]), floats(all[pr.B]))
		if pr.A >= pr.B || !near(pr.R, want) || pr.N != 24 {
			t.Errorf("%s~%s: r %v n %d, want %v 24", pr.A, pr.B, pr.R, pr.N, want)
		}
		if math.Abs(pr.R) > prev+tol {
			t.Errorf("pairs out of order at %s~%s", pr.A, pr.B)
		}
		prev = math.Abs(pr.R)
		switch {
		case math.Abs(want) > 1-1e-12:
			// |r| = 1 (up to rounding): t is unbounded, p is 0.
			if pr.PValue > 1e-12 || !pr.Significant {
				t.Errorf("%s~%s: perfect correlation with p %v", pr.A, pr.B, pr.PValue)
			}
		default:
			tv := want * math.Sqrt(22/(1-want*want))
			if pr.T == nil || !near(*pr.T, tv) || !near(pr.PValue, stats.StudentTwoSided(tv, 22)) || pr.Significant != (pr.PValue < 0.01) {
				t.Errorf("%s~%s: t %v p %v significant %v, want t %v", pr.A, pr.B, pr.T, pr.PValue, pr.Significant, tv)
			}
		}
	}
	top := map[string]float64{}
	for _, pr := range a.Pairs[:3] {
		top[pr.A+"~"+pr.B] = pr.R
	}
	if !near(top["base~double"], 1) || !near(top["base~mirror"], -1) || !near(top["double~mirror"], -1) {
		t.Errorf("the exact pairs are not first: %v", top)
	}
	// min_abs keeps the strong ones; limit cuts.
	_, a, _ = getJSON[query.CorrelationsResponse](t, p, "/v1/analytics/correlations",
		values("bucket", "hour", "window", "24h", "end", end.Format(time.RFC3339), "min_abs", "0.99"))
	if len(a.Pairs) != 3 || a.PairsChecked != 6 || a.Alpha != 0.05 || a.MinAbs != 0.99 {
		t.Errorf("min_abs 0.99: %s", mustJSON(a.Pairs))
	}
	_, a, _ = getJSON[query.CorrelationsResponse](t, p, "/v1/analytics/correlations",
		values("bucket", "hour", "window", "24h", "end", end.Format(time.RFC3339), "min_abs", "0", "limit", "2"))
	if len(a.Pairs) != 2 || !a.Truncated {
		t.Errorf("limit 2: %d pairs, truncated %v", len(a.Pairs), a.Truncated)
	}
	// One usable series is not enough; neither are two buckets.
	_, a, _ = getJSON[query.CorrelationsResponse](t, p, "/v1/analytics/correlations",
		values("bucket", "hour", "window", "24h", "end", end.Format(time.RFC3339), "system_id", "base,flat"))
	if a.Status != "insufficient_data" || len(a.Pairs) != 0 || a.Message == "" {
		t.Errorf("one usable series: %s", mustJSON(a))
	}
	_, a, _ = getJSON[query.CorrelationsResponse](t, p, "/v1/analytics/correlations",
		values("bucket", "hour", "window", "2h", "end", end.Format(time.RFC3339), "min_points", "2"))
	if a.Status != "insufficient_data" || len(a.Pairs) != 0 || !strings.Contains(a.Message, "buckets") {
		t.Errorf("two buckets: %s", mustJSON(a))
	}
}

// Analytics read through the planner: a window of two days over one system
// fetches that system's partitions of those days, nothing else.
func TestAnalyticsPrunesToTheWindow(t *testing.T) {
	p := trendLake(t, testenv.Local(t))
	waitKeys(t, p)
	p.store.reset()
	st, a, body := getJSON[query.TrendsResponse](t, p, "/v1/analytics/trends",
		values("system_id", "sys-up", "window", "2d", "end", "2026-10-27", "min_points", "2"))
	if st != 200 || len(a.Series) != 1 || a.Series[0].Points[0].Value != 4 || a.Series[0].Points[1].Value != 5 {
		t.Fatalf("trends: %d %s", st, body)
	}
	gets := p.store.reset()
	if len(gets) == 0 {
		t.Fatal("no object was read")
	}
	for key := range gets {
		if strings.Contains(key, "/_delta_log/") {
			continue // the lake's poller, not the statement
		}
		if !strings.Contains(key, "/day=2026-10-25/") && !strings.Contains(key, "/day=2026-10-26/") {
			t.Errorf("read %s, outside the window's partitions", key)
		}
	}
}

// Every bad parameter is a 400 with a code saying which, and writes
// nothing.
func TestAnalyticsAndGraphBadRequests(t *testing.T) {
	p := graphLake(t)
	if _, err := p.lake.AppendMemories(ctxT(t), series("sys-a", trendStart, day, countsUp, nil)); err != nil {
		t.Fatal(err)
	}
	versions := func() []int64 {
		var out []int64
		for _, name := range []string{"memories", "entities", "relations"} {
			tbl, _ := p.lake.Table(name)
			snap, err := tbl.Refresh(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, snap.Version)
		}
		return out
	}
	before := versions()
	const inj = "' OR 1=1 --"
	for _, c := range []struct {
		path string
		code string
	}{
		{"/v1/analytics/trends?metric=bogus", "invalid_metric"},
		{"/v1/analytics/trends?metric=" + url.QueryEscape(inj), "invalid_metric"},
		{"/v1/analytics/trends?group_by=kind", "invalid_group_by"},
		{"/v1/analytics/trends?bucket=week", "invalid_bucket"},
		{"/v1/analytics/trends?bucket=" + url.QueryEscape(inj), "invalid_bucket"},
		{"/v1/analytics/trends?window=0d", "invalid_window"},
		{"/v1/analytics/trends?window=abc", "invalid_window"},
		{"/v1/analytics/trends?window=-5d", "invalid_window"},
		{"/v1/analytics/trends?window=" + url.QueryEscape("5d); DROP TABLE x; --"), "invalid_window"},
		{"/v1/analytics/trends?window=36h&bucket=day", "invalid_window"},
		{"/v1/analytics/trends?window=3000d", "invalid_window"},
		{"/v1/analytics/trends?window=2001h&bucket=hour", "invalid_window"},
		{"/v1/analytics/trends?window=30d&window=10d", "invalid_parameter"},
		{"/v1/analytics/trends?end=yesterday", "invalid_end"},
		{"/v1/analytics/trends?end=1900-01-01", "invalid_end"},
		{"/v1/analytics/trends?end=" + url.QueryEscape(inj), "invalid_end"},
		{"/v1/analytics/trends?system_id=" + url.QueryEscape(inj), "invalid_system_id"},
		{"/v1/analytics/trends?system_id=sys-a,a%3Bb", "invalid_system_id"},
		{"/v1/analytics/trends?system_id=sys-a;b", "invalid_parameter"}, // Go refuses ';' in a query
		{"/v1/analytics/trends?system_id=" + strings.Repeat("x", 101), "invalid_system_id"},
		{"/v1/analytics/trends?limit=0", "invalid_limit"},
		{"/v1/analytics/trends?limit=5000", "invalid_limit"},
		{"/v1/analytics/trends?limit=1.5", "invalid_limit"},
		{"/v1/analytics/trends?limit=" + url.QueryEscape("1 UNION SELECT 1"), "invalid_limit"},
		{"/v1/analytics/trends?min_points=1", "invalid_min_points"},
		{"/v1/analytics/trends?kind=poem", "invalid_kind"},
		{"/v1/analytics/trends?project=%01x", "invalid_project"},
		{"/v1/analytics/trends?project=%ff", "invalid_project"},
		{"/v1/analytics/trends?metric=entities&project=x", "invalid_parameter"},
		{"/v1/analytics/trends?metric=relations&group_by=project", "invalid_parameter"},
		{"/v1/analytics/trends?threshold=3", "invalid_parameter"}, // not a trends parameter
		{"/v1/analytics/trends?foo=1", "invalid_parameter"},
		{"/v1/analytics/trends?%zz", "invalid_parameter"},
		{"/v1/analytics/anomalies?threshold=NaN", "invalid_threshold"},
		{"/v1/analytics/anomalies?threshold=Inf", "invalid_threshold"},
		{"/v1/analytics/anomalies?threshold=-1", "invalid_threshold"},
		{"/v1/analytics/anomalies?threshold=0", "invalid_threshold"},
		{"/v1/analytics/anomalies?threshold=1e9", "invalid_threshold"},
		{"/v1/analytics/anomalies?threshold=abc", "invalid_threshold"},
		{"/v1/analytics/anomalies?threshold=" + url.QueryEscape("3 OR 1=1"), "invalid_threshold"},
		{"/v1/analytics/correlations?group_by=none", "invalid_group_by"},
		{"/v1/analytics/correlations?min_abs=1.5", "invalid_min_abs"},
		{"/v1/analytics/correlations?min_abs=NaN", "invalid_min_abs"},
		{"/v1/analytics/correlations?alpha=0", "invalid_alpha"},
		{"/v1/analytics/correlations?alpha=1", "invalid_alpha"},
		{"/v1/analytics/correlations?max_series=1", "invalid_max_series"},
		{"/v1/analytics/correlations?max_series=1000", "invalid_max_series"},
		{"/v1/analytics/correlations?threshold=2", "invalid_parameter"},
		{"/v1/graph/entities/bad%27sys/x", "invalid_system_id"},
		{"/v1/graph/entities/s1/" + url.PathEscape(inj), "invalid_id"},
		{"/v1/graph/entities/s1/a%22b", "invalid_id"},
		{"/v1/graph/entities/s1/e-duckdb?direction=sideways", "invalid_direction"},
		{"/v1/graph/entities/s1/e-duckdb?limit=0", "invalid_limit"},
		{"/v1/graph/entities/s1/e-duckdb?limit=100000", "invalid_limit"},
		{"/v1/graph/entities/s1/e-duckdb?system_id=s2", "invalid_parameter"},
		{"/v1/graph/entities/s1/e-duckdb?relation_type=%07", "invalid_relation_type"},
		{"/v1/graph/path?to=Akosha", "missing_parameter"},
		{"/v1/graph/path?from=Akosha", "missing_parameter"},
		{"/v1/graph/path?from=Akosha&to=Go&max_hops=0", "invalid_max_hops"},
		{"/v1/graph/path?from=Akosha&to=Go&max_hops=100", "invalid_max_hops"},
		{"/v1/graph/path?from=Akosha&to=Go&max_hops=2.5", "invalid_max_hops"},
		{"/v1/graph/path?from=Akosha&to=Go&max_hops=" + url.QueryEscape(inj), "invalid_max_hops"},
		{"/v1/graph/path?from=Akosha&to=Go&directed=maybe", "invalid_directed"},
		{"/v1/graph/path?from=%00&to=Go", "invalid_from"},
		{"/v1/graph/path?from=Akosha&to=" + strings.Repeat("x", 1001), "invalid_to"},
		{"/v1/graph/path?from=Akosha&to=Go&limit=3", "invalid_parameter"},
	} {
		st, _, body := do(t, "GET", p.url+c.path, nil, nil)
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(body, &e); err != nil || st != 400 || e.Error.Code != c.code || e.Error.Message == "" {
			t.Errorf("%s: %d %s, want 400 %s", c.path, st, body, c.code)
		}
	}
	if after := versions(); !slices.Equal(before, after) {
		t.Errorf("versions moved from %v to %v", before, after)
	}
}
