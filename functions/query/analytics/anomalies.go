package analytics

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/akosha/akosha/functions/query/sqlresult"
)

// Anomalies scores each bucket of each series by its z-score against the
// series' mean and sample standard deviation (GET /v1/analytics/anomalies).
// With n buckets no z can exceed (n-1)/sqrt(n): a threshold of 3 needs at
// least 11 buckets to ever fire.
func Anomalies(ctx context.Context, views Views, v url.Values) (*AnomaliesResponse, error) {
	start := time.Now()
	q, err := parseSeriesQuery(kindAnomalies, v, start)
	if err != nil {
		return nil, err
	}
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
	res, err := views.Query(ctx, sql, q.limit)
	if err != nil {
		return nil, err
	}
	out := anomaliesOf(q, res.Rows)
	out.Version = views.Version(q.table)
	out.ElapsedMS = elapsedMS(start)
	return out, nil
}

// anomaliesOf names the rows of the anomalies statement.
func anomaliesOf(q *seriesQuery, rows [][]any) *AnomaliesResponse {
	out := &AnomaliesResponse{Window: q.Window, Threshold: q.threshold, Series: []AnomalySeries{}}
	for _, row := range rows {
		r := sqlresult.Row(row)
		vals := r.Floats(1)
		s := AnomalySeries{Key: r.Text(0), Points: q.points(vals), ActiveBuckets: int(r.Float(2)), Total: r.Float(3), Anomalies: []Anomaly{}}
		out.SeriesTotal = int(r.Float(8))
		switch sd := r.OptFloat(5); {
		case q.Buckets < 3:
			s.Status = statusInsufficient
			s.Message = fmt.Sprintf("%d buckets; scoring needs at least 3", q.Buckets)
		case s.ActiveBuckets < q.minPoints:
			s.Status = statusInsufficient
			s.Message = fmt.Sprintf("%d of %d buckets hold data; scoring needs at least %d (min_points)", s.ActiveBuckets, q.Buckets, q.minPoints)
		case sd == nil || *sd == 0:
			s.Status, s.Mean, s.Stddev = statusOK, r.OptFloat(4), sd
			s.Message = "constant series: nothing deviates"
		default:
			s.Status, s.Mean, s.Stddev = statusOK, r.OptFloat(4), sd
			idx, zs := r.Floats(6), r.Floats(7)
			for i := range min(len(idx), len(zs)) {
				// A bucket index out of the series would be the statement's
				// bug; it is skipped rather than trusted.
				at := int(idx[i])
				if at < 0 || at >= len(vals) {
					continue
				}
				a := Anomaly{T: q.bucketTime(int64(at)), Value: vals[at], Z: zs[i], Kind: anomalySpike}
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
	return out
}
