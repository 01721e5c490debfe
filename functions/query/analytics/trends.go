package analytics

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"time"

	"github.com/akosha/akosha/functions/query/sqlresult"
	"github.com/akosha/akosha/internal/stats"
)

// Trends fits a least-squares line to each series (GET
// /v1/analytics/trends; v holds its query parameters).
func Trends(ctx context.Context, views Views, v url.Values) (*TrendsResponse, error) {
	start := time.Now()
	q, err := parseSeriesQuery(kindTrends, v, start)
	if err != nil {
		return nil, err
	}
	sql := q.seriesCTE(q.limit) + `SELECT key, list(value ORDER BY idx) AS points,
  count(*) FILTER (WHERE value > 0) AS active, sum(value) AS total, avg(value) AS mean, var_pop(value) AS var,
  regr_slope(value, idx) AS slope, regr_intercept(value, idx) AS intercept, regr_r2(value, idx) AS r2,
  (SELECT count(DISTINCT key) FROM src) AS keys_total
FROM series GROUP BY key ORDER BY total DESC, key`
	res, err := views.Query(ctx, sql, q.limit)
	if err != nil {
		return nil, err
	}
	out := trendsOf(q, res.Rows)
	out.Version = views.Version(q.table)
	out.ElapsedMS = elapsedMS(start)
	return out, nil
}

// trendsOf names the rows of the trends statement.
func trendsOf(q *seriesQuery, rows [][]any) *TrendsResponse {
	out := &TrendsResponse{Window: q.Window, Series: []TrendSeries{}}
	for _, row := range rows {
		r := sqlresult.Row(row)
		s := TrendSeries{
			Key: r.Text(0), Points: q.points(r.Floats(1)), ActiveBuckets: int(r.Float(2)),
			Total: r.Float(3), Mean: r.Float(4),
		}
		out.SeriesTotal = int(r.Float(9))
		switch {
		case q.Buckets < 3:
			s.Status = statusInsufficient
			s.Message = fmt.Sprintf("%d buckets; a trend needs at least 3 (a line fits any 2 points)", q.Buckets)
		case s.ActiveBuckets < q.minPoints:
			s.Status = statusInsufficient
			s.Message = fmt.Sprintf("%d of %d buckets hold data; a trend needs at least %d (min_points)", s.ActiveBuckets, q.Buckets, q.minPoints)
		default:
			s.Status = statusOK
			trend(&s, r.Float(5), r.OptFloat(6), r.OptFloat(7), r.OptFloat(8), q.Buckets)
		}
		out.Series = append(out.Series, s)
	}
	out.Truncated = out.SeriesTotal > len(out.Series)
	out.Status, out.Message = overall(len(out.Series), func(i int) string { return out.Series[i].Status }, "trend")
	return out
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
