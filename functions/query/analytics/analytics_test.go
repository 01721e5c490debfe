package analytics

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/akosha/akosha/functions/query/param"
	"github.com/akosha/akosha/functions/query/sqlresult"
)

// views answers the statements in turn with rows, and remembers them.
type views struct {
	rows [][][]any
	sqls []string
}

func (v *views) Version(table string) int64 { return int64(len(table)) }

func (v *views) Query(_ context.Context, sql string, _ int) (*sqlresult.Result, error) {
	v.sqls = append(v.sqls, sql)
	if len(v.rows) == 0 {
		return nil, errors.New("no more statements expected")
	}
	res := &sqlresult.Result{Rows: v.rows[0]}
	v.rows = v.rows[1:]
	return res, nil
}

func TestWindowIsWholeBucketsEndingAtABoundary(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)
	q, err := parseSeriesQuery(kindTrends, url.Values{"bucket": {"hour"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	// The hour in progress is left out; hours default to 48 of them.
	if q.Buckets != 48 || q.To != "2026-11-25T10:00:00Z" || q.From != "2026-11-23T10:00:00Z" || q.Window.Window != "48h" {
		t.Errorf("window %+v", q.Window)
	}
	q, err = parseSeriesQuery(kindTrends, url.Values{"window": {"2w"}, "end": {"2026-11-20"}}, now)
	if err != nil || q.Buckets != 14 || q.To != "2026-11-20T00:00:00Z" {
		t.Errorf("2w to a date: %+v %v", q, err)
	}
	for v, want := range map[string]string{
		"window=36h":                        "invalid_window", // not whole days
		"window=3000d":                      "invalid_window",
		"metric=entities&kind=memory":       param.CodeInvalid,
		"threshold=3":                       param.CodeInvalid, // an anomalies parameter
		"end=1999-12-31":                    "invalid_end",
		"min_points=1":                      "invalid_min_points",
		"kind=poem":                         "invalid_kind",
		"system_id=" + url.QueryEscape("'"): param.CodeInvalidSystemID,
	} {
		vals, _ := url.ParseQuery(v)
		var pe *param.Error
		if _, err := parseSeriesQuery(kindTrends, vals, now); !errors.As(err, &pe) || pe.Code != want {
			t.Errorf("%s: %v, want %s", v, err, want)
		}
	}
	if _, err := parseSeriesQuery(kindCorrelations, url.Values{"group_by": {"none"}}, now); err == nil {
		t.Error("correlations of the one fleet-wide series were asked")
	}
}

// The statement prunes by constants, and the answer names the rows: the
// version of the metric's table, a series too sparse for a trend, and a
// constant one, flat without R².
func TestTrendsNamesTheRows(t *testing.T) {
	v := &views{rows: [][][]any{{
		{"sys-a", []any{2.0, 2.0, 2.0, 2.0}, int64(4), 8.0, 2.0, 0.0, 0.0, 2.0, nil, int64(3)},
		{"sys-b", []any{0.0, 0.0, 1.0, 0.0}, int64(1), 1.0, 0.25, 0.1875, 0.1, 0.1, 0.2, int64(3)},
	}}}
	out, err := Trends(context.Background(), v, url.Values{"metric": {"entities"}, "window": {"4d"}, "system_id": {"sys-b,sys-a"}})
	if err != nil {
		t.Fatal(err)
	}
	if sql := v.sqls[0]; !strings.Contains(sql, "FROM entities WHERE created_at >= TIMESTAMPTZ '") ||
		!strings.Contains(sql, "system_id IN ('sys-a', 'sys-b')") {
		t.Errorf("statement:\n%s", sql)
	}
	if out.Version != int64(len("entities")) || out.Buckets != 4 || len(out.Series) != 2 || out.SeriesTotal != 3 || !out.Truncated {
		t.Fatalf("answer %+v", out)
	}
	a, b := out.Series[0], out.Series[1]
	if a.Status != statusOK || a.Direction == nil || *a.Direction != directionFlat || a.R2 != nil || *a.Slope != 0 || len(a.Points) != 4 {
		t.Errorf("constant series %+v", a)
	}
	if b.Status != statusInsufficient || b.Direction != nil || !strings.Contains(b.Message, "min_points") {
		t.Errorf("sparse series %+v", b)
	}
	if out.Status != statusOK {
		t.Errorf("status %s", out.Status)
	}
}

// Correlations with fewer than two usable series run no pairs statement.
func TestCorrelationsNeedTwoUsableSeries(t *testing.T) {
	v := &views{rows: [][][]any{{
		{"sys-a", int64(5), 1.5, 20.0, int64(2)},
		{"sys-b", int64(5), 0.0, 10.0, int64(2)},
	}}}
	out, err := Correlations(context.Background(), v, url.Values{"window": {"5d"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(v.sqls) != 1 || out.Status != statusInsufficient || len(out.Series) != 1 || !strings.Contains(out.Excluded["sys-b"], "constant") {
		t.Errorf("answer %+v after %d statements", out, len(v.sqls))
	}
}

// A bucket index the statement should never give is skipped, not trusted.
func TestAnomaliesSkipAnIndexOutOfTheSeries(t *testing.T) {
	v := &views{rows: [][][]any{{
		{"sys-a", []any{1.0, 1.0, 9.0}, int64(3), 11.0, 3.67, 4.6, []any{2.0, 7.0}, []any{1.15, 2.0}, int64(1)},
	}}}
	out, err := Anomalies(context.Background(), v, url.Values{"window": {"3d"}, "threshold": {"1"}})
	if err != nil {
		t.Fatal(err)
	}
	if s := out.Series[0]; len(s.Anomalies) != 1 || s.Anomalies[0].Value != 9 || s.Anomalies[0].Kind != anomalySpike || out.AnomalyCount != 1 {
		t.Errorf("series %+v", s)
	}
}
