package query

// Analytics over the lake (GET /v1/analytics/trends, /anomalies,
// /correlations, the MCP tools analyze_trends, detect_anomalies and
// correlate_systems, and `akosha analytics`).
//
// Every figure is computed by DuckDB over the views, through the same
// planner as POST /v1/sql, so only the files of the window (and of the
// systems asked for) are fetched and no process ever holds the rows. The
// statements share one shape:
//
//	src     the rows of the metric's table in the window [from, to), with
//	        the series key (system_id, project or 'all') and created_at;
//	        constant predicates only, so partitions and files are pruned
//	keys    the series kept: the most active `limit` keys in the window
//	counts  rows per (key, bucket index), by integer division of the
//	        microseconds since the window's start
//	series  every (key, bucket) of the window with its count, zero where
//	        nothing happened: a quiet day is a data point, not a gap, and
//	        leaving it out would bend every slope and correlation
//
// and then aggregate it: regr_slope / regr_intercept / regr_r2 against the
// bucket index (trends), avg and stddev_samp over the series with the
// points' z-scores (anomalies), corr over a self-join on the bucket
// (correlations). Go only reads the aggregates and names them: the
// direction of a trend, its percent change and a correlation's p-value
// (Student's t, internal/stats) are arithmetic on one row.
//
// Windows are whole buckets in UTC: `end` (exclusive, default now) is
// rounded down to a bucket boundary, so by default the bucket in progress,
// which would read as a drop, is left out.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/akosha/akosha/functions/query/sqlexec"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/internal/mcp"
	"github.com/akosha/akosha/internal/stats"
	"github.com/akosha/akosha/schemas"
)

// Analytics limits and defaults.
const (
	// MaxAnalyticsBuckets bounds the points of one series (83 days of
	// hours, 5 years of days): series × buckets rows are what DuckDB
	// builds, and points are what the answer carries.
	MaxAnalyticsBuckets = 2000
	// MaxAnalyticsSeries bounds the series of one answer.
	MaxAnalyticsSeries = 1000
	// MaxCorrelationSeries bounds the series correlated pairwise: pairs
	// grow with its square.
	MaxCorrelationSeries = 500

	defaultSeriesLimit  = 20
	defaultMaxSeries    = 50
	defaultPairLimit    = 100
	defaultMinPoints    = 3
	defaultThreshold    = 3
	defaultMinAbs       = 0.7
	defaultAlpha        = 0.05
	maxThreshold        = 100
	maxFilterValues     = 1000
	maxLabelRunes       = schemas.MaxLabelLen
	flatRelativeChange  = 0.05 // a fitted change below 5% of the mean is "flat"
	trendAlpha          = 0.05 // a slope with a larger p-value is "flat"
	statusOK            = "ok"
	statusInsufficient  = "insufficient_data"
	directionUp         = "up"
	directionDown       = "down"
	directionFlat       = "flat"
	anomalySpike        = "spike"
	anomalyDrop         = "drop"
	codeInvalidParam    = "invalid_parameter"
	codeInvalidSystemID = "invalid_system_id"
)

// Point is one bucket of a series: its start (RFC 3339, UTC) and value.
type Point struct {
	T     string  `json:"t"`
	Value float64 `json:"value"`
}

// Window describes the buckets an analytics answer covers.
type Window struct {
	Metric  string `json:"metric"`
	GroupBy string `json:"group_by"`
	Bucket  string `json:"bucket"`
	Window  string `json:"window"`
	From    string `json:"from"` // first bucket's start, inclusive
	To      string `json:"to"`   // last bucket's end, exclusive
	Buckets int    `json:"buckets"`
}

// TrendSeries is the trend of one key.
type TrendSeries struct {
	Key     string  `json:"key"`
	Status  string  `json:"status"` // ok | insufficient_data
	Message string  `json:"message,omitempty"`
	Points  []Point `json:"points"`
	// ActiveBuckets counts the buckets holding data.
	ActiveBuckets int     `json:"active_buckets"`
	Total         float64 `json:"total"`
	Mean          float64 `json:"mean"`
	// Slope is the least-squares change of the metric per bucket; Intercept
	// the fitted value of the first bucket. Null when the data is
	// insufficient.
	Slope     *float64 `json:"slope"`
	Intercept *float64 `json:"intercept"`
	// R2 is the coefficient of determination of the fit; null when the
	// series is constant (there is no variance to explain) or insufficient.
	R2 *float64 `json:"r2"`
	// PercentChange is the fitted line's change from the first bucket to
	// the last, relative to its value at the first; null when that value
	// is not positive.
	PercentChange *float64 `json:"percent_change"`
	// PValue is the two-sided p-value of the slope (the t-test of a zero
	// slope, n-2 degrees of freedom); null for a constant series.
	PValue *float64 `json:"p_value"`
	// Direction is up or down when the slope is significant (p_value below
	// 0.05) and the fitted change at least 5% of the mean, flat otherwise;
	// null when the data is insufficient.
	Direction *string `json:"direction"`
}

// TrendsResponse is the answer of GET /v1/analytics/trends.
type TrendsResponse struct {
	Window
	Status  string        `json:"status"`
	Message string        `json:"message,omitempty"`
	Series  []TrendSeries `json:"series"`
	// SeriesTotal counts the keys with data in the window; Truncated says
	// only the `limit` most active are in Series.
	SeriesTotal int     `json:"series_total"`
	Truncated   bool    `json:"truncated"`
	Version     int64   `json:"version"`
	ElapsedMS   float64 `json:"elapsed_ms"`
}

// Anomaly is one bucket whose z-score exceeds the threshold.
type Anomaly struct {
	T     string  `json:"t"`
	Value float64 `json:"value"`
	Z     float64 `json:"z"`
	Kind  string  `json:"kind"` // spike | drop
}

// AnomalySeries is the anomaly check of one key.
type AnomalySeries struct {
	Key           string    `json:"key"`
	Status        string    `json:"status"`
	Message       string    `json:"message,omitempty"`
	Points        []Point   `json:"points"`
	ActiveBuckets int       `json:"active_buckets"`
	Total         float64   `json:"total"`
	Mean          *float64  `json:"mean"`
	Stddev        *float64  `json:"stddev"` // sample standard deviation
	Anomalies     []Anomaly `json:"anomalies"`
}

// AnomaliesResponse is the answer of GET /v1/analytics/anomalies.
type AnomaliesResponse struct {
	Window
	Threshold    float64         `json:"threshold"`
	Status       string          `json:"status"`
	Message      string          `json:"message,omitempty"`
	Series       []AnomalySeries `json:"series"`
	AnomalyCount int             `json:"anomaly_count"`
	SeriesTotal  int             `json:"series_total"`
	Truncated    bool            `json:"truncated"`
	Version      int64           `json:"version"`
	ElapsedMS    float64         `json:"elapsed_ms"`
}

// CorrelationPair is the Pearson correlation of two keys' series.
type CorrelationPair struct {
	A string  `json:"a"`
	B string  `json:"b"`
	R float64 `json:"r"`
	N int     `json:"n"` // buckets compared
	// T is the t statistic r·sqrt((n-2)/(1-r²)); null when |r| = 1.
	T *float64 `json:"t"`
	// PValue is the two-sided p-value of "no correlation" (Student's t
	// with n-2 degrees of freedom). It assumes independent buckets; activity
	// series are autocorrelated, so read it as a screen, not a proof.
	PValue      float64 `json:"p_value"`
	Significant bool    `json:"significant"` // p_value < alpha
}

// CorrelationsResponse is the answer of GET /v1/analytics/correlations.
type CorrelationsResponse struct {
	Window
	MinAbs  float64           `json:"min_abs"`
	Alpha   float64           `json:"alpha"`
	Status  string            `json:"status"`
	Message string            `json:"message,omitempty"`
	Pairs   []CorrelationPair `json:"pairs"`
	// Series are the keys compared; Excluded those left out (too few
	// active buckets, or constant, where r is undefined), with why.
	Series   []string          `json:"series"`
	Excluded map[string]string `json:"excluded"`
	// PairsChecked counts the pairs computed, before min_abs and limit.
	PairsChecked int     `json:"pairs_checked"`
	SeriesTotal  int     `json:"series_total"`
	Truncated    bool    `json:"truncated"`
	Version      int64   `json:"version"`
	ElapsedMS    float64 `json:"elapsed_ms"`
}

// analytics kinds: which parameters each takes.
const (
	kindTrends       = "trends"
	kindAnomalies    = "anomalies"
	kindCorrelations = "correlations"
)

var analyticsParams = map[string][]string{
	kindTrends:       {"metric", "group_by", "system_id", "project", "kind", "bucket", "window", "end", "limit", "min_points"},
	kindAnomalies:    {"metric", "group_by", "system_id", "project", "kind", "bucket", "window", "end", "limit", "min_points", "threshold"},
	kindCorrelations: {"metric", "group_by", "system_id", "project", "kind", "bucket", "window", "end", "limit", "min_points", "max_series", "min_abs", "alpha"},
}

// seriesQuery is a validated analytics request.
type seriesQuery struct {
	Window
	table     string
	bucketDur time.Duration
	start     time.Time
	end       time.Time
	systems   []string
	project   *string
	kinds     []string
	limit     int // series (trends, anomalies) or pairs (correlations)
	maxSeries int // series compared (correlations)
	minPoints int
	threshold float64
	minAbs    float64
	alpha     float64
}

// metricTables maps a metric to the table whose rows it counts.
var metricTables = map[string]string{"records": "memories", "entities": "entities", "relations": "relations"}

var windowRe = regexp.MustCompile(`^([0-9]{1,6})([hdw])$`)

// params reads query parameters strictly: an unknown name or a repeated
// single-valued one is an error, so that a typo never silently widens an
// answer.
type params struct {
	v url.Values
}

func newParams(v url.Values, allowed []string) (params, error) {
	for name := range v {
		if !slices.Contains(allowed, name) {
			return params{}, badRequest(codeInvalidParam, "unknown parameter %q (this takes %s)", truncate(name, 60), strings.Join(allowed, ", "))
		}
	}
	return params{v: v}, nil
}

// one returns a single-valued parameter, "" when absent.
func (p params) one(name string) (string, error) {
	vals := p.v[name]
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
		return strings.TrimSpace(vals[0]), nil
	}
	return "", badRequest(codeInvalidParam, "%s is given %d times; give it once", name, len(vals))
}

// list returns a list parameter, repeated or comma-separated.
func (p params) list(name string) []string {
	var out []string
	for _, v := range p.v[name] {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func (p params) enum(name, def string, allowed ...string) (string, error) {
	s, err := p.one(name)
	if err != nil || s == "" {
		return def, err
	}
	if !slices.Contains(allowed, s) {
		return "", badRequest("invalid_"+name, "%s %q: want %s", name, truncate(s, 60), strings.Join(allowed, ", "))
	}
	return s, nil
}

func (p params) integer(name string, def, lo, hi int) (int, error) {
	s, err := p.one(name)
	if err != nil || s == "" {
		return def, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, badRequest("invalid_"+name, "%s %q: want a whole number from %d to %d", name, truncate(s, 60), lo, hi)
	}
	return n, nil
}

// number reads a finite float in [lo, hi] (open at lo when openLo).
func (p params) number(name string, def, lo, hi float64, openLo bool) (float64, error) {
	s, err := p.one(name)
	if err != nil || s == "" {
		return def, err
	}
	x, err := strconv.ParseFloat(s, 64)
	bad := err != nil || math.IsNaN(x) || math.IsInf(x, 0) || x < lo || x > hi || (openLo && x == lo)
	if bad {
		interval := "["
		if openLo {
			interval = "("
		}
		return 0, badRequest("invalid_"+name, "%s %q: want a number in %s%g, %g]", name, truncate(s, 60), interval, lo, hi)
	}
	return x, nil
}

func (p params) boolean(name string) (bool, error) {
	s, err := p.one(name)
	if err != nil || s == "" {
		return false, err
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, badRequest("invalid_"+name, "%s %q: want true or false", name, truncate(s, 60))
	}
	return b, nil
}

// systemIDs reads system_id values, each held to the schemas' pattern: they
// become SQL literals and partition names.
func (p params) systemIDs() ([]string, error) {
	ids := p.list("system_id")
	if len(ids) > maxFilterValues {
		return nil, badRequest(codeInvalidSystemID, "at most %d system ids", maxFilterValues)
	}
	for _, id := range ids {
		if !schemas.ValidSystemID(id) {
			return nil, badRequest(codeInvalidSystemID, "system_id %q: only letters, digits, '_' and '-', 1 to 100 of them", truncate(id, 60))
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// checkLabelParam holds free text (a project, an entity name) to what the
// schemas store: valid UTF-8 without control characters, bounded. Quotes
// are legal in such names; they reach SQL only through quote().
func checkLabelParam(name, s string, maxRunes int) error {
	if !utf8.ValidString(s) {
		return badRequest("invalid_"+name, "%s is not valid UTF-8", name)
	}
	if n := utf8.RuneCountInString(s); n > maxRunes {
		return badRequest("invalid_"+name, "%s is longer than %d characters", name, maxRunes)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return badRequest("invalid_"+name, "%s must not contain the control character %U", name, r)
		}
	}
	return nil
}

// parseSeriesQuery validates the parameters of one analytics kind.
func parseSeriesQuery(kind string, v url.Values, now time.Time) (*seriesQuery, error) {
	p, err := newParams(v, analyticsParams[kind])
	if err != nil {
		return nil, err
	}
	q := &seriesQuery{}
	if q.Metric, err = p.enum("metric", "records", "records", "entities", "relations"); err != nil {
		return nil, err
	}
	q.table = metricTables[q.Metric]
	groups := []string{"system", "project", "none"}
	if kind == kindCorrelations {
		groups = groups[:2] // correlating one series with itself says nothing
	}
	if q.GroupBy, err = p.enum("group_by", "system", groups...); err != nil {
		return nil, err
	}
	if q.Bucket, err = p.enum("bucket", "day", "hour", "day"); err != nil {
		return nil, err
	}
	q.bucketDur = time.Hour
	if q.Bucket == "day" {
		q.bucketDur = 24 * time.Hour
	}
	if err := q.parseWindow(p, now); err != nil {
		return nil, err
	}
	if q.systems, err = p.systemIDs(); err != nil {
		return nil, err
	}
	project, err := p.one("project")
	if err != nil {
		return nil, err
	}
	if _, given := v["project"]; given {
		if err := checkLabelParam("project", project, maxLabelRunes); err != nil {
			return nil, err
		}
		q.project = &project
	}
	q.kinds = p.list("kind")
	for _, k := range q.kinds {
		if k != schemas.KindConversation && k != schemas.KindReflection && k != schemas.KindMemory {
			return nil, badRequest("invalid_kind", "kind %q: want conversation, reflection or memory", truncate(k, 60))
		}
	}
	if q.Metric != "records" && (q.project != nil || len(q.kinds) > 0 || q.GroupBy == "project") {
		return nil, badRequest(codeInvalidParam, "project and kind belong to memories: use them with metric=records")
	}
	if q.minPoints, err = p.integer("min_points", defaultMinPoints, 2, MaxAnalyticsBuckets); err != nil {
		return nil, err
	}
	switch kind {
	case kindCorrelations:
		if q.limit, err = p.integer("limit", defaultPairLimit, 1, MaxAnalyticsSeries); err != nil {
			return nil, err
		}
		if q.maxSeries, err = p.integer("max_series", defaultMaxSeries, 2, MaxCorrelationSeries); err != nil {
			return nil, err
		}
		if q.minAbs, err = p.number("min_abs", defaultMinAbs, 0, 1, false); err != nil {
			return nil, err
		}
		if q.alpha, err = p.number("alpha", defaultAlpha, 0, 1, true); err != nil {
			return nil, err
		}
		if q.alpha == 1 {
			return nil, badRequest("invalid_alpha", "alpha must be below 1")
		}
	default:
		if q.limit, err = p.integer("limit", defaultSeriesLimit, 1, MaxAnalyticsSeries); err != nil {
			return nil, err
		}
		if kind == kindAnomalies {
			if q.threshold, err = p.number("threshold", defaultThreshold, 0, maxThreshold, true); err != nil {
				return nil, err
			}
		}
	}
	return q, nil
}

// parseWindow reads bucket counts and bounds: window is <n>h, <n>d or
// <n>w, a whole number of buckets; end (exclusive) is rounded down to a
// bucket boundary.
func (q *seriesQuery) parseWindow(p params, now time.Time) error {
	w, err := p.one("window")
	if err != nil {
		return err
	}
	if w == "" {
		w = "30d"
		if q.Bucket == "hour" {
			w = "48h"
		}
	}
	m := windowRe.FindStringSubmatch(w)
	if m == nil {
		return badRequest("invalid_window", "window %q: want a number of hours, days or weeks such as 48h, 30d or 4w", truncate(w, 60))
	}
	n, _ := strconv.Atoi(m[1])
	hours := n * map[string]int{"h": 1, "d": 24, "w": 168}[m[2]]
	bh := int(q.bucketDur / time.Hour)
	if hours == 0 || hours%bh != 0 {
		return badRequest("invalid_window", "window %s is not a whole number of %ss", w, q.Bucket)
	}
	q.Buckets = hours / bh
	if q.Buckets > MaxAnalyticsBuckets {
		return badRequest("invalid_window", "window %s holds %d %ss; at most %d", w, q.Buckets, q.Bucket, MaxAnalyticsBuckets)
	}
	q.Window.Window = w
	end := now
	if s, err := p.one("end"); err != nil {
		return err
	} else if s != "" {
		if end, err = parseInstant(s); err != nil {
			return badRequest("invalid_end", "end: %v", err)
		}
	}
	if end.Year() < 2000 || end.Year() > 9000 {
		return badRequest("invalid_end", "end %s is out of range", end.Format(time.RFC3339))
	}
	q.end = end.UTC().Truncate(q.bucketDur) // buckets of an hour or a day divide UTC evenly
	q.start = q.end.Add(-time.Duration(q.Buckets) * q.bucketDur)
	q.From, q.To = q.start.Format(time.RFC3339), q.end.Format(time.RFC3339)
	return nil
}

// parseInstant reads RFC 3339 (or ISO 8601 without a zone, as UTC) or a
// date, YYYY-MM-DD, meaning its midnight UTC.
func parseInstant(s string) (time.Time, error) {
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return d, nil
	}
	return schemas.ParseTime(s)
}

// seriesCTE is the WITH clause defining src, keys, counts and series for
// q, keeping at most maxKeys series.
func (q *seriesQuery) seriesCTE(maxKeys int) string {
	key := map[string]string{"system": "system_id", "project": "coalesce(project, '')", "none": "'all'"}[q.GroupBy]
	var where strings.Builder
	// Constant comparisons on created_at and system_id, in a SELECT over the
	// view itself, are what the planner prunes files by.
	fmt.Fprintf(&where, "created_at >= TIMESTAMPTZ %s AND created_at < TIMESTAMPTZ %s",
		quote(q.start.Format(time.RFC3339)), quote(q.end.Format(time.RFC3339)))
	if len(q.systems) > 0 {
		where.WriteString(" AND system_id IN (" + quoteAll(q.systems) + ")")
	}
	if q.project != nil {
		where.WriteString(" AND coalesce(project, '') = " + quote(*q.project))
	}
	if len(q.kinds) > 0 {
		where.WriteString(" AND kind IN (" + quoteAll(q.kinds) + ")")
	}
	return fmt.Sprintf(`WITH src AS (
  SELECT %s AS key, created_at FROM %s WHERE %s
), keys AS (
  SELECT key, count(*) AS total FROM src GROUP BY key ORDER BY total DESC, key LIMIT %d
), counts AS (
  SELECT key, (epoch_us(created_at) - %d) // %d AS idx, count(*) AS value
  FROM src WHERE key IN (SELECT key FROM keys) GROUP BY ALL
), series AS (
  SELECT k.key, g.idx, coalesce(c.value, 0)::DOUBLE AS value
  FROM keys k CROSS JOIN (SELECT range AS idx FROM range(%d)) g
  LEFT JOIN counts c ON c.key = k.key AND c.idx = g.idx
)
`, key, q.table, where.String(), maxKeys, q.start.UnixMicro(), q.bucketDur.Microseconds(), q.Buckets)
}

func quoteAll(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = quote(v)
	}
	return strings.Join(q, ", ")
}

// sqlNumber writes a validated float for SQL as a DOUBLE, exactly.
func sqlNumber(x float64) string {
	return "CAST(" + quote(strconv.FormatFloat(x, 'g', -1, 64)) + " AS DOUBLE)"
}

// points names a series' values by their buckets' starts.
func (q *seriesQuery) points(vals []float64) []Point {
	out := make([]Point, len(vals))
	for i, v := range vals {
		out[i] = Point{T: q.bucketTime(int64(i)), Value: v}
	}
	return out
}

func (q *seriesQuery) bucketTime(idx int64) string {
	return q.start.Add(time.Duration(idx) * q.bucketDur).Format(time.RFC3339)
}

// runAnalytics runs one of our own statements. Its failures are ours, not
// the client's (the parameters were validated and quoted), so they are
// internal errors, except a timeout, which says the lake is too large for
// the window.
func (f *Function) runAnalytics(ctx context.Context, snaps snapshots, sql string, limit int) (*sqlexec.Result, error) {
	res, err := f.run(ctx, snaps, sql, limit)
	switch {
	case err == nil:
		return res, nil
	case errors.Is(err, sqlexec.ErrTimeout), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil, sqlError(err)
	}
	return nil, fmt.Errorf("analytics statement: %w", err)
}

// Trends fits a least-squares line to each series (GET
// /v1/analytics/trends; v holds its query parameters).
func (f *Function) Trends(ctx context.Context, v url.Values) (*TrendsResponse, error) {
	start := time.Now()
	q, err := parseSeriesQuery(kindTrends, v, start)
	if err != nil {
		return nil, err
	}
	snaps := f.snapshots()
	sql := q.seriesCTE(q.limit) + `SELECT key, list(value ORDER BY idx) AS points,
  count(*) FILTER (WHERE value > 0) AS active, sum(value) AS total, avg(value) AS mean, var_pop(value) AS var,
  regr_slope(value, idx) AS slope, regr_intercept(value, idx) AS intercept, regr_r2(value, idx) AS r2,
  (SELECT count(DISTINCT key) FROM src) AS keys_total
FROM series GROUP BY key ORDER BY total DESC, key`
	res, err := f.runAnalytics(ctx, snaps, sql, q.limit)
	if err != nil {
		return nil, err
	}
	out := &TrendsResponse{Window: q.Window, Series: []TrendSeries{}, Version: snaps[q.table].Version}
	for _, row := range res.Rows {
		r := rowReader(row)
		s := TrendSeries{
			Key: r.str(0), Points: q.points(r.floats(1)), ActiveBuckets: int(r.num(2)),
			Total: r.num(3), Mean: r.num(4),
		}
		out.SeriesTotal = int(r.num(9))
		switch {
		case q.Buckets < 3:
			s.Status = statusInsufficient
			s.Message = fmt.Sprintf("%d buckets; a trend needs at least 3 (a line fits any 2 points)", q.Buckets)
		case s.ActiveBuckets < q.minPoints:
			s.Status = statusInsufficient
			s.Message = fmt.Sprintf("%d of %d buckets hold data; a trend needs at least %d (min_points)", s.ActiveBuckets, q.Buckets, q.minPoints)
		default:
			s.Status = statusOK
			trend(&s, r.num(5), r.opt(6), r.opt(7), r.opt(8), q.Buckets)
		}
		out.Series = append(out.Series, s)
	}
	out.Truncated = out.SeriesTotal > len(out.Series)
	out.Status, out.Message = overall(len(out.Series), func(i int) string { return out.Series[i].Status }, "trend")
	out.ElapsedMS = elapsedMS(start)
	return out, nil
}

// trend names a fitted series: a constant one is flat with no R²; others
// go up or down only when the slope is both significant (a noisy series
// with a small R² has a slope, but no direction worth claiming) and large
// (a fitted change of at least flatRelativeChange of the mean).
func trend(s *TrendSeries, variance float64, slope, intercept, r2 *float64, n int) {
	s.Slope, s.Intercept = slope, intercept
	dir := directionFlat
	defer func() { s.Direction = &dir }()
	if slope == nil || intercept == nil || r2 == nil {
		return
	}
	if variance <= 1e-12*(1+s.Mean*s.Mean) {
		zero := 0.0
		s.Slope, s.R2 = &zero, nil
		if *intercept > 0 {
			s.PercentChange = &zero
		}
		s.Message = "constant series: no variance for R²"
		return
	}
	s.R2 = r2
	change := *slope * float64(n-1)
	if *intercept > 0 {
		pct := 100 * change / *intercept
		s.PercentChange = &pct
	}
	// The slope's t-test is the correlation's: r = ±sqrt(R²).
	p := stats.PearsonP(math.Copysign(math.Sqrt(math.Max(0, *r2)), *slope), n)
	if !math.IsNaN(p) {
		s.PValue = &p
	}
	switch {
	case math.IsNaN(p) || p >= trendAlpha:
	case math.Abs(change) < flatRelativeChange*s.Mean:
	case change > 0:
		dir = directionUp
	default:
		dir = directionDown
	}
}

// overall is an answer's status: ok when some series could be analysed.
func overall(n int, status func(int) string, what string) (string, string) {
	if n == 0 {
		return statusInsufficient, "no data in the window"
	}
	for i := range n {
		if status(i) == statusOK {
			return statusOK, ""
		}
	}
	return statusInsufficient, "no series has enough data for a " + what
}

// Anomalies scores each bucket of each series by its z-score against the
// series' mean and sample standard deviation (GET /v1/analytics/anomalies).
// With n buckets no z can exceed (n-1)/sqrt(n): a threshold of 3 needs at
// least 11 buckets to ever fire.
func (f *Function) Anomalies(ctx context.Context, v url.Values) (*AnomaliesResponse, error) {
	start := time.Now()
	q, err := parseSeriesQuery(kindAnomalies, v, start)
	if err != nil {
		return nil, err
	}
	snaps := f.snapshots()
	thr := sqlNumber(q.threshold)
	sql := q.seriesCTE(q.limit) + `, scored AS (
  SELECT key, idx, value, avg(value) OVER (PARTITION BY key) AS mean, stddev_samp(value) OVER (PARTITION BY key) AS sd
  FROM series
)
SELECT key, list(value ORDER BY idx) AS points, count(*) FILTER (WHERE value > 0) AS active, sum(value) AS total,
  any_value(mean) AS mean, any_value(sd) AS sd,
  list(idx ORDER BY idx) FILTER (WHERE sd > 0 AND abs(value - mean) / sd > ` + thr + `) AS a_idx,
  list((value - mean) / sd ORDER BY idx) FILTER (WHERE sd > 0 AND abs(value - mean) / sd > ` + thr + `) AS a_z,
  (SELECT count(DISTINCT key) FROM src) AS keys_total
FROM scored GROUP BY key ORDER BY total DESC, key`
	res, err := f.runAnalytics(ctx, snaps, sql, q.limit)
	if err != nil {
		return nil, err
	}
	out := &AnomaliesResponse{Window: q.Window, Threshold: q.threshold, Series: []AnomalySeries{}, Version: snaps[q.table].Version}
	for _, row := range res.Rows {
		r := rowReader(row)
		vals := r.floats(1)
		s := AnomalySeries{Key: r.str(0), Points: q.points(vals), ActiveBuckets: int(r.num(2)), Total: r.num(3), Anomalies: []Anomaly{}}
		out.SeriesTotal = int(r.num(8))
		switch sd := r.opt(5); {
		case q.Buckets < 3:
			s.Status = statusInsufficient
			s.Message = fmt.Sprintf("%d buckets; scoring needs at least 3", q.Buckets)
		case s.ActiveBuckets < q.minPoints:
			s.Status = statusInsufficient
			s.Message = fmt.Sprintf("%d of %d buckets hold data; scoring needs at least %d (min_points)", s.ActiveBuckets, q.Buckets, q.minPoints)
		case sd == nil || *sd == 0:
			s.Status, s.Mean, s.Stddev = statusOK, r.opt(4), sd
			s.Message = "constant series: nothing deviates"
		default:
			s.Status, s.Mean, s.Stddev = statusOK, r.opt(4), sd
			idx, zs := r.floats(6), r.floats(7)
			for i := range min(len(idx), len(zs)) {
				a := Anomaly{T: q.bucketTime(int64(idx[i])), Value: vals[int(idx[i])], Z: zs[i], Kind: anomalySpike}
				if a.Z < 0 {
					a.Kind = anomalyDrop
				}
				s.Anomalies = append(s.Anomalies, a)
			}
			out.AnomalyCount += len(s.Anomalies)
		}
		out.Series = append(out.Series, s)
	}
	out.Truncated = out.SeriesTotal > len(out.Series)
	out.Status, out.Message = overall(len(out.Series), func(i int) string { return out.Series[i].Status }, "z-score")
	out.ElapsedMS = elapsedMS(start)
	return out, nil
}

// Correlations computes the Pearson correlation of every pair among the
// most active series (GET /v1/analytics/correlations), over the same
// zero-filled buckets, and keeps the pairs with |r| >= min_abs, strongest
// first.
func (f *Function) Correlations(ctx context.Context, v url.Values) (*CorrelationsResponse, error) {
	start := time.Now()
	q, err := parseSeriesQuery(kindCorrelations, v, start)
	if err != nil {
		return nil, err
	}
	snaps := f.snapshots()
	out := &CorrelationsResponse{Window: q.Window, MinAbs: q.minAbs, Alpha: q.alpha, Pairs: []CorrelationPair{},
		Series: []string{}, Excluded: map[string]string{}, Version: snaps[q.table].Version}
	// First the series: which are usable (enough data, not constant).
	res, err := f.runAnalytics(ctx, snaps, q.seriesCTE(q.maxSeries)+`SELECT key, count(*) FILTER (WHERE value > 0) AS active,
  var_pop(value) AS var, sum(value) AS total, (SELECT count(DISTINCT key) FROM src) AS keys_total
FROM series GROUP BY key ORDER BY total DESC, key`, q.maxSeries)
	if err != nil {
		return nil, err
	}
	for _, row := range res.Rows {
		r := rowReader(row)
		key, active := r.str(0), int(r.num(1))
		out.SeriesTotal = int(r.num(4))
		switch {
		case active < q.minPoints:
			out.Excluded[key] = fmt.Sprintf("%d of %d buckets hold data; min_points is %d", active, q.Buckets, q.minPoints)
		case r.num(2) == 0:
			out.Excluded[key] = "constant series: correlation is undefined"
		default:
			out.Series = append(out.Series, key)
		}
	}
	out.Truncated = out.SeriesTotal > len(res.Rows)
	switch {
	case q.Buckets < 3:
		out.Status, out.Message = statusInsufficient, fmt.Sprintf("%d buckets; a correlation test needs at least 3", q.Buckets)
	case len(out.Series) < 2:
		out.Status, out.Message = statusInsufficient, fmt.Sprintf("%d usable series; correlations need at least 2", len(out.Series))
	}
	if out.Status != "" {
		out.ElapsedMS = elapsedMS(start)
		return out, nil
	}
	out.Status = statusOK
	// Then the pairs, on the same snapshots. Each series is compared on
	// every bucket of the window, so n is the same for all pairs.
	res, err = f.runAnalytics(ctx, snaps, q.seriesCTE(q.maxSeries)+`, usable AS (
  SELECT key FROM series GROUP BY key
  HAVING count(*) FILTER (WHERE value > 0) >= `+strconv.Itoa(q.minPoints)+` AND var_pop(value) > 0
), pairs AS (
  SELECT a.key AS a, b.key AS b, corr(a.value, b.value) AS r, count(*) AS n
  FROM series a JOIN series b ON a.idx = b.idx AND a.key < b.key
  WHERE a.key IN (SELECT key FROM usable) AND b.key IN (SELECT key FROM usable)
  GROUP BY a.key, b.key
)
SELECT a, b, r, n, (SELECT count(*) FROM pairs) AS checked FROM pairs
WHERE abs(r) >= `+sqlNumber(q.minAbs)+` ORDER BY abs(r) DESC, a, b`, q.limit)
	if err != nil {
		return nil, err
	}
	out.PairsChecked = len(out.Series) * (len(out.Series) - 1) / 2
	for _, row := range res.Rows {
		r := rowReader(row)
		rv := r.opt(2)
		if rv == nil {
			continue
		}
		n := int(r.num(3))
		out.PairsChecked = int(r.num(4))
		pair := CorrelationPair{A: r.str(0), B: r.str(1), R: math.Max(-1, math.Min(1, *rv)), N: n}
		if t := stats.PearsonT(pair.R, n); !math.IsInf(t, 0) && !math.IsNaN(t) {
			pair.T = &t
		}
		pair.PValue = stats.PearsonP(pair.R, n)
		pair.Significant = pair.PValue < q.alpha
		out.Pairs = append(out.Pairs, pair)
	}
	if res.Truncated {
		out.Truncated = true
	}
	out.ElapsedMS = elapsedMS(start)
	return out, nil
}

func elapsedMS(start time.Time) float64 { return float64(time.Since(start).Microseconds()) / 1000 }

// rowReader reads the converted values of one result row (see
// sqlexec.Result): numbers as float64, NULL as nil.
type rowReader []any

func (r rowReader) str(i int) string {
	if s, ok := r[i].(string); ok {
		return s
	}
	if r[i] == nil {
		return ""
	}
	return fmt.Sprint(r[i])
}

func (r rowReader) opt(i int) *float64 {
	x, ok := toFloat(r[i])
	if !ok {
		return nil
	}
	return &x
}

func (r rowReader) num(i int) float64 {
	x, _ := toFloat(r[i])
	return x
}

func (r rowReader) floats(i int) []float64 {
	switch x := r[i].(type) {
	case []float64:
		return x
	case []float32:
		out := make([]float64, len(x))
		for j, v := range x {
			out[j] = float64(v)
		}
		return out
	case []any:
		out := make([]float64, 0, len(x))
		for _, v := range x {
			f, _ := toFloat(v)
			out = append(out, f)
		}
		return out
	}
	return nil
}

// toFloat reads a converted numeric value; NaN and infinities (which the
// engine writes as strings) and NULL are not numbers.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// Handlers.

func (f *Function) serveTrends(w http.ResponseWriter, r *http.Request) {
	serveAnalytics(w, r, f.Trends)
}

func (f *Function) serveAnomalies(w http.ResponseWriter, r *http.Request) {
	serveAnalytics(w, r, f.Anomalies)
}

func (f *Function) serveCorrelations(w http.ResponseWriter, r *http.Request) {
	serveAnalytics(w, r, f.Correlations)
}

func serveAnalytics[T any](w http.ResponseWriter, r *http.Request, fn func(context.Context, url.Values) (T, error)) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		httpx.WriteError(w, http.StatusBadRequest, codeInvalidParam, "malformed query string: "+err.Error())
		return
	}
	out, err := fn(r.Context(), v)
	if err != nil {
		httpx.WriteErr(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// MCP tools: their arguments are the HTTP parameters, as JSON.

// toolValues turns a tool's JSON arguments into query parameters: strings,
// numbers and booleans as text, lists as repeated values; null is absent.
func toolValues(tool string, args json.RawMessage) (url.Values, error) {
	if len(args) == 0 || string(args) == "null" {
		return url.Values{}, nil
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(args)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, badRequest("invalid_arguments", "%s arguments: want a JSON object: %v", tool, err)
	}
	v := url.Values{}
	scalar := func(x any) (string, bool) {
		switch s := x.(type) {
		case string:
			return s, true
		case json.Number:
			return s.String(), true
		case bool:
			return strconv.FormatBool(s), true
		}
		return "", false
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		switch x := m[k].(type) {
		case nil:
		case []any:
			for _, e := range x {
				s, ok := scalar(e)
				if !ok {
					return nil, badRequest("invalid_arguments", "%s argument %s: want a list of strings or numbers", tool, k)
				}
				v.Add(k, s)
			}
		default:
			s, ok := scalar(x)
			if !ok {
				return nil, badRequest("invalid_arguments", "%s argument %s: want a string, number, boolean or list", tool, k)
			}
			v.Set(k, s)
		}
	}
	return v, nil
}

// asMap turns an answer struct into the tool's answer fields.
func asMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode the answer: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("encode the answer: %w", err)
	}
	return m, nil
}

func analyticsTool[T any](name string, fn func(context.Context, url.Values) (T, error)) func(*http.Request, json.RawMessage) (map[string]any, error) {
	return func(r *http.Request, args json.RawMessage) (map[string]any, error) {
		v, err := toolValues(name, args)
		if err != nil {
			return nil, err
		}
		out, err := fn(r.Context(), v)
		if err != nil {
			return nil, err
		}
		return asMap(out)
	}
}

// Input schemas of the analytics tools.
var (
	schemaString  = map[string]any{"type": "string"}
	schemaStrings = map[string]any{"oneOf": []any{schemaString, map[string]any{"type": "array", "items": schemaString}}}

	seriesProperties = map[string]any{
		"metric":     map[string]any{"type": "string", "enum": []any{"records", "entities", "relations"}, "default": "records", "description": "what is counted per bucket: memories, entities or relations"},
		"group_by":   map[string]any{"type": "string", "enum": []any{"system", "project", "none"}, "default": "system", "description": "one series per system, per project, or one for the fleet"},
		"system_id":  withDesc(schemaStrings, "only these systems"),
		"project":    map[string]any{"type": "string", "description": "only this project (metric records)"},
		"kind":       withDesc(schemaStrings, "only these kinds: conversation, reflection, memory (metric records)"),
		"bucket":     map[string]any{"type": "string", "enum": []any{"hour", "day"}, "default": "day"},
		"window":     map[string]any{"type": "string", "pattern": windowRe.String(), "description": "how far back: 48h, 30d, 4w (default 30d, or 48h for hours); a whole number of buckets, at most 2000"},
		"end":        map[string]any{"type": "string", "description": "exclusive end of the window (RFC 3339 or YYYY-MM-DD), rounded down to a bucket; default now"},
		"min_points": map[string]any{"type": "integer", "minimum": 2, "default": defaultMinPoints, "description": "least buckets holding data for a series to be analysed"},
	}
)

func withDesc(schema map[string]any, desc string) map[string]any {
	out := map[string]any{"description": desc}
	for k, v := range schema {
		out[k] = v
	}
	return out
}

func objectSchema(props map[string]any, extra map[string]any, required ...string) map[string]any {
	all := map[string]any{}
	for k, v := range props {
		all[k] = v
	}
	for k, v := range extra {
		all[k] = v
	}
	s := map[string]any{"type": "object", "properties": all, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// analyticsTools are analyze_trends, detect_anomalies and
// correlate_systems (MCPTools lists them).
func (f *Function) analyticsTools() []mcp.Tool {
	return []mcp.Tool{
		{
			Name:        "analyze_trends",
			Description: "Trend of activity per system or project over a window: per series the bucket counts, least-squares slope, R², percent change and direction (up, down, flat).",
			InputSchema: objectSchema(seriesProperties, map[string]any{
				"limit": map[string]any{"type": "integer", "minimum": 1, "maximum": MaxAnalyticsSeries, "default": defaultSeriesLimit, "description": "most active series to return"},
			}),
			Perm: auth.Read,
			Call: analyticsTool("analyze_trends", f.Trends),
		},
		{
			Name:        "detect_anomalies",
			Description: "Buckets whose count deviates from its series' mean by more than threshold sample standard deviations (z-score), per system or project.",
			InputSchema: objectSchema(seriesProperties, map[string]any{
				"threshold": map[string]any{"type": "number", "exclusiveMinimum": 0, "maximum": maxThreshold, "default": defaultThreshold, "description": "|z| above which a bucket is anomalous"},
				"limit":     map[string]any{"type": "integer", "minimum": 1, "maximum": MaxAnalyticsSeries, "default": defaultSeriesLimit},
			}),
			Perm: auth.Read,
			Call: analyticsTool("detect_anomalies", f.Anomalies),
		},
		{
			Name:        "correlate_systems",
			Description: "Pearson correlation between the activity series of systems (or projects) over hourly or daily buckets; pairs with |r| >= min_abs, with the t statistic and p-value.",
			InputSchema: objectSchema(seriesProperties, map[string]any{
				"group_by":   map[string]any{"type": "string", "enum": []any{"system", "project"}, "default": "system"},
				"min_abs":    map[string]any{"type": "number", "minimum": 0, "maximum": 1, "default": defaultMinAbs, "description": "least |r| of a pair to return"},
				"alpha":      map[string]any{"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1, "default": defaultAlpha, "description": "significance level: significant means p_value < alpha"},
				"max_series": map[string]any{"type": "integer", "minimum": 2, "maximum": MaxCorrelationSeries, "default": defaultMaxSeries, "description": "most active series compared"},
				"limit":      map[string]any{"type": "integer", "minimum": 1, "maximum": MaxAnalyticsSeries, "default": defaultPairLimit, "description": "most pairs to return"},
			}),
			Perm: auth.Read,
			Call: analyticsTool("correlate_systems", f.Correlations),
		},
	}
}
