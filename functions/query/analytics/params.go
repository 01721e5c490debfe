package analytics

import (
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/akosha/akosha/functions/query/param"
	"github.com/akosha/akosha/schemas"
)

// Limits and defaults of the parameters (the MCP tools' input schemas name
// them too).
const (
	// MaxBuckets bounds the points of one series (83 days of hours, 5 years
	// of days): series × buckets rows are what DuckDB builds, and points are
	// what the answer carries.
	MaxBuckets = 2000
	// MaxSeries bounds the series of one answer.
	MaxSeries = 1000
	// MaxCorrelationSeries bounds the series correlated pairwise: pairs
	// grow with its square.
	MaxCorrelationSeries = 500

	DefaultSeries    = 20  // limit of trends and anomalies
	DefaultPairs     = 100 // limit of correlations
	DefaultMaxSeries = 50  // max_series of correlations
	DefaultMinPoints = 3
	DefaultThreshold = 3 // |z| of an anomaly
	MaxThreshold     = 100
	DefaultMinAbs    = 0.7
	DefaultAlpha     = 0.05

	// WindowPattern is what the window parameter looks like: a number of
	// hours, days or weeks.
	WindowPattern = `^([0-9]{1,6})([hdw])$`

	maxLabelRunes      = schemas.MaxLabelLen
	flatRelativeChange = 0.05 // a fitted change below 5% of the mean is "flat"
	trendAlpha         = 0.05 // a slope with a larger p-value is "flat"
	statusOK           = "ok"
	statusInsufficient = "insufficient_data"
	directionUp        = "up"
	directionDown      = "down"
	directionFlat      = "flat"
	anomalySpike       = "spike"
	anomalyDrop        = "drop"
)

// analysis kinds: which parameters each takes.
const (
	kindTrends       = "trends"
	kindAnomalies    = "anomalies"
	kindCorrelations = "correlations"
)

var kindParams = map[string][]string{
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

var windowRe = regexp.MustCompile(WindowPattern)

// parseSeriesQuery validates the parameters of one analysis kind; now is
// the end of a window given none.
func parseSeriesQuery(kind string, v url.Values, now time.Time) (*seriesQuery, error) {
	p, err := param.Read(v, kindParams[kind])
	if err != nil {
		return nil, err
	}
	q := &seriesQuery{}
	if q.Metric, err = p.Enum("metric", "records", "records", "entities", "relations"); err != nil {
		return nil, err
	}
	q.table = metricTables[q.Metric]
	groups := []string{"system", "project", "none"}
	if kind == kindCorrelations {
		groups = groups[:2] // correlating one series with itself says nothing
	}
	if q.GroupBy, err = p.Enum("group_by", "system", groups...); err != nil {
		return nil, err
	}
	if q.Bucket, err = p.Enum("bucket", "day", "hour", "day"); err != nil {
		return nil, err
	}
	q.bucketDur = time.Hour
	if q.Bucket == "day" {
		q.bucketDur = 24 * time.Hour
	}
	if err := q.parseWindow(p, now); err != nil {
		return nil, err
	}
	if q.systems, err = p.SystemIDs(); err != nil {
		return nil, err
	}
	project, err := p.One("project")
	if err != nil {
		return nil, err
	}
	if p.Has("project") {
		if err := param.Label("project", project, maxLabelRunes); err != nil {
			return nil, err
		}
		q.project = &project
	}
	q.kinds = p.List("kind")
	for _, k := range q.kinds {
		if k != schemas.KindConversation && k != schemas.KindReflection && k != schemas.KindMemory {
			return nil, param.Invalid("invalid_kind", "kind %q: want conversation, reflection or memory", param.Truncate(k, 60))
		}
	}
	if q.Metric != "records" && (q.project != nil || len(q.kinds) > 0 || q.GroupBy == "project") {
		return nil, param.Invalid(param.CodeInvalid, "project and kind belong to memories: use them with metric=records")
	}
	if q.minPoints, err = p.Int("min_points", DefaultMinPoints, 2, MaxBuckets); err != nil {
		return nil, err
	}
	switch kind {
	case kindCorrelations:
		if q.limit, err = p.Int("limit", DefaultPairs, 1, MaxSeries); err != nil {
			return nil, err
		}
		if q.maxSeries, err = p.Int("max_series", DefaultMaxSeries, 2, MaxCorrelationSeries); err != nil {
			return nil, err
		}
		if q.minAbs, err = p.Number("min_abs", DefaultMinAbs, 0, 1, false); err != nil {
			return nil, err
		}
		if q.alpha, err = p.Number("alpha", DefaultAlpha, 0, 1, true); err != nil {
			return nil, err
		}
		if q.alpha == 1 {
			return nil, param.Invalid("invalid_alpha", "alpha must be below 1")
		}
	default:
		if q.limit, err = p.Int("limit", DefaultSeries, 1, MaxSeries); err != nil {
			return nil, err
		}
		if kind == kindAnomalies {
			if q.threshold, err = p.Number("threshold", DefaultThreshold, 0, MaxThreshold, true); err != nil {
				return nil, err
			}
		}
	}
	return q, nil
}

// parseWindow reads bucket counts and bounds: window is <n>h, <n>d or
// <n>w, a whole number of buckets; end (exclusive) is rounded down to a
// bucket boundary.
func (q *seriesQuery) parseWindow(p param.Values, now time.Time) error {
	w, err := p.One("window")
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
		return param.Invalid("invalid_window", "window %q: want a number of hours, days or weeks such as 48h, 30d or 4w", param.Truncate(w, 60))
	}
	n, _ := strconv.Atoi(m[1])
	hours := n * map[string]int{"h": 1, "d": 24, "w": 168}[m[2]]
	bh := int(q.bucketDur / time.Hour)
	if hours == 0 || hours%bh != 0 {
		return param.Invalid("invalid_window", "window %s is not a whole number of %ss", w, q.Bucket)
	}
	q.Buckets = hours / bh
	if q.Buckets > MaxBuckets {
		return param.Invalid("invalid_window", "window %s holds %d %ss; at most %d", w, q.Buckets, q.Bucket, MaxBuckets)
	}
	q.Window.Window = w
	end := now
	if s, err := p.One("end"); err != nil {
		return err
	} else if s != "" {
		if end, err = parseInstant(s); err != nil {
			return param.Invalid("invalid_end", "end: %v", err)
		}
	}
	if end.Year() < 2000 || end.Year() > 9000 {
		return param.Invalid("invalid_end", "end %s is out of range", end.Format(time.RFC3339))
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
