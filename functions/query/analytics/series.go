package analytics

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/akosha/akosha/functions/query/sqlresult"
)

// seriesCTE is the WITH clause defining src, keys, counts and series for
// q (doc.go), keeping at most maxKeys series.
func (q *seriesQuery) seriesCTE(maxKeys int) string {
	key := map[string]string{"system": "system_id", "project": "coalesce(project, '')", "none": "'all'"}[q.GroupBy]
	var where strings.Builder
	// Constant comparisons on created_at and system_id, in a SELECT over the
	// view itself, are what the planner prunes files by.
	fmt.Fprintf(&where, "created_at >= TIMESTAMPTZ %s AND created_at < TIMESTAMPTZ %s",
		sqlresult.Quote(q.start.Format(time.RFC3339)), sqlresult.Quote(q.end.Format(time.RFC3339)))
	if len(q.systems) > 0 {
		where.WriteString(" AND system_id IN (" + sqlresult.QuoteAll(q.systems) + ")")
	}
	if q.project != nil {
		where.WriteString(" AND coalesce(project, '') = " + sqlresult.Quote(*q.project))
	}
	if len(q.kinds) > 0 {
		where.WriteString(" AND kind IN (" + sqlresult.QuoteAll(q.kinds) + ")")
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

// sqlNumber writes a validated float for SQL as a DOUBLE, exactly.
func sqlNumber(x float64) string {
	return "CAST(" + sqlresult.Quote(strconv.FormatFloat(x, 'g', -1, 64)) + " AS DOUBLE)"
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
