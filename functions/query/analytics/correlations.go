package analytics

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"time"

	"github.com/akosha/akosha/functions/query/sqlresult"
	"github.com/akosha/akosha/internal/stats"
)

// Correlations computes the Pearson correlation of every pair among the
// most active series (GET /v1/analytics/correlations), over the same
// zero-filled buckets, and keeps the pairs with |r| >= min_abs, strongest
// first.
func Correlations(ctx context.Context, views Views, v url.Values) (*CorrelationsResponse, error) {
	start := time.Now()
	q, err := parseSeriesQuery(kindCorrelations, v, start)
	if err != nil {
		return nil, err
	}
	// First the series: which are usable (enough data, not constant).
	res, err := views.Query(ctx, q.seriesCTE(q.maxSeries)+`SELECT key, count(*) FILTER (WHERE value > 0) AS active,
  var_pop(value) AS var, sum(value) AS total, (SELECT count(DISTINCT key) FROM src) AS keys_total
FROM series GROUP BY key ORDER BY total DESC, key`, q.maxSeries)
	if err != nil {
		return nil, err
	}
	out := correlatedSeries(q, res.Rows)
	out.Version = views.Version(q.table)
	if out.Status != statusOK {
		out.ElapsedMS = elapsedMS(start)
		return out, nil
	}
	// Then the pairs, on the same snapshots. Each series is compared on
	// every bucket of the window, so n is the same for all pairs.
	res, err = views.Query(ctx, q.seriesCTE(q.maxSeries)+`, usable AS (
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
	correlatedPairs(q, out, res)
	out.ElapsedMS = elapsedMS(start)
	return out, nil
}

// correlatedSeries names the rows of the series statement: the series
// compared and those excluded, with why. The answer's status is ok when
// the pairs are to be computed.
func correlatedSeries(q *seriesQuery, rows [][]any) *CorrelationsResponse {
	out := &CorrelationsResponse{Window: q.Window, MinAbs: q.minAbs, Alpha: q.alpha, Pairs: []CorrelationPair{},
		Series: []string{}, Excluded: map[string]string{}}
	for _, row := range rows {
		r := sqlresult.Row(row)
		key, active := r.Text(0), int(r.Float(1))
		out.SeriesTotal = int(r.Float(4))
		switch {
		case active < q.minPoints:
			out.Excluded[key] = fmt.Sprintf("%d of %d buckets hold data; min_points is %d", active, q.Buckets, q.minPoints)
		case r.Float(2) == 0:
			out.Excluded[key] = "constant series: correlation is undefined"
		default:
			out.Series = append(out.Series, key)
		}
	}
	out.Truncated = out.SeriesTotal > len(rows)
	switch {
	case q.Buckets < 3:
		out.Status, out.Message = statusInsufficient, fmt.Sprintf("%d buckets; a correlation test needs at least 3", q.Buckets)
	case len(out.Series) < 2:
		out.Status, out.Message = statusInsufficient, fmt.Sprintf("%d usable series; correlations need at least 2", len(out.Series))
	default:
		out.Status = statusOK
	}
	return out
}

// correlatedPairs adds the rows of the pairs statement to out, with each
// pair's t statistic and p-value.
func correlatedPairs(q *seriesQuery, out *CorrelationsResponse, res *sqlresult.Result) {
	out.PairsChecked = len(out.Series) * (len(out.Series) - 1) / 2
	for _, row := range res.Rows {
		r := sqlresult.Row(row)
		rv := r.OptFloat(2)
		if rv == nil {
			continue
		}
		n := int(r.Float(3))
		out.PairsChecked = int(r.Float(4))
		pair := CorrelationPair{A: r.Text(0), B: r.Text(1), R: math.Max(-1, math.Min(1, *rv)), N: n}
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
}
