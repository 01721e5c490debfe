package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/internal/sparkline"
)

// chartWidth is the most points a sparkline shows; longer series are
// averaged down to it.
const chartWidth = 60

// output holds the flags every analytics and graph command shares.
type output struct {
	format string // table or json
	chart  string // auto, always or never
}

func (o *output) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.format, "format", "table", "table or json")
	cmd.Flags().StringVar(&o.chart, "chart", "auto", "sparklines and bars: auto (on a terminal), always or never (plain numbers)")
}

func (o *output) check() error {
	if o.format != "table" && o.format != "json" {
		return usageError{fmt.Errorf("--format %q: want table or json", o.format)}
	}
	if o.chart != "auto" && o.chart != "always" && o.chart != "never" {
		return usageError{fmt.Errorf("--chart %q: want auto, always or never", o.chart)}
	}
	return nil
}

// charts says whether to draw: on a terminal, unless told otherwise. Pipes
// and files get plain numbers, which scripts can read.
func (o *output) charts(w io.Writer) bool {
	switch o.chart {
	case "always":
		return true
	case "never":
		return false
	}
	f, ok := w.(*os.File)
	return ok && isTerminal(f)
}

// seriesText is a series as a sparkline, or as its numbers.
func (o *output) seriesText(w io.Writer, pts []query.Point) string {
	vals := make([]float64, len(pts))
	for i, p := range pts {
		vals[i] = p.Value
	}
	if o.charts(w) {
		return sparkline.Line(sparkline.Resample(vals, chartWidth))
	}
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = num(v)
	}
	return strings.Join(parts, " ")
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

func optNum(v *float64, format string) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf(format, *v)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// getAPI sends a GET with query parameters to a running server and decodes
// its JSON answer into out, turning API errors into Go errors (a 400 into a
// usage error: the parameters were wrong).
func (c *client) getAPI(ctx context.Context, path string, v url.Values, out any) error {
	u := strings.TrimRight(c.url, "/") + path
	if len(v) > 0 {
		u += "?" + v.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
			err := fmt.Errorf("%s (%d %s)", e.Error.Message, resp.StatusCode, e.Error.Code)
			if resp.StatusCode == http.StatusBadRequest {
				return usageError{err}
			}
			return err
		}
		return fmt.Errorf("GET %s: HTTP %d: %s", path, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decode the answer of %s: %w", path, err)
	}
	return nil
}

// callAPI answers one analytics or graph request from a running server
// (--url) or from the lake itself (--lake), the same either way.
func callAPI[T any](ctx context.Context, g *globals, c *client, path string, v url.Values,
	local func(*query.Function) func(context.Context, url.Values) (T, error)) (T, error) {
	var zero T
	if c.url != "" {
		var out T
		if err := c.getAPI(ctx, path, v, &out); err != nil {
			return zero, err
		}
		return out, nil
	}
	f, done, err := g.localQueryFunction(ctx)
	if err != nil {
		return zero, err
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	out, err := local(f)(ctx, v)
	var he *httpx.Error
	if errors.As(err, &he) && he.Status == http.StatusBadRequest {
		return zero, usageError{errors.New(he.Message)}
	}
	return out, err
}

// seriesFlags are the parameters the three analytics commands share; only
// flags given on the command line are sent, so the server's defaults hold.
type seriesFlags struct {
	metric, groupBy, project, bucket, window, end string
	systems, kinds                                []string
	limit, minPoints                              int
}

func (s *seriesFlags) register(cmd *cobra.Command, limitHelp string) {
	fl := cmd.Flags()
	fl.StringVar(&s.metric, "metric", "records", "what is counted per bucket: records (memories), entities or relations")
	fl.StringVar(&s.groupBy, "group-by", "system", "one series per system, per project, or none (the fleet)")
	fl.StringSliceVar(&s.systems, "system", nil, "only these system ids")
	fl.StringVar(&s.project, "project", "", "only this project (records)")
	fl.StringSliceVar(&s.kinds, "kind", nil, "only these kinds: conversation, reflection, memory (records)")
	fl.StringVar(&s.bucket, "bucket", "day", "hour or day")
	fl.StringVar(&s.window, "window", "", "how far back: 48h, 30d, 4w (default 30d, or 48h for hours)")
	fl.StringVar(&s.end, "end", "", "exclusive end of the window, RFC 3339 or YYYY-MM-DD (default now), rounded down to a bucket")
	fl.IntVar(&s.limit, "limit", 0, limitHelp)
	fl.IntVar(&s.minPoints, "min-points", 3, "least buckets holding data for a series to be analysed")
}

// values turns the flags given into query parameters.
func (s *seriesFlags) values(cmd *cobra.Command) url.Values {
	v := url.Values{}
	set := func(flag, param, val string) {
		if cmd.Flags().Changed(flag) {
			v.Set(param, val)
		}
	}
	set("metric", "metric", s.metric)
	set("group-by", "group_by", s.groupBy)
	set("project", "project", s.project)
	set("bucket", "bucket", s.bucket)
	set("window", "window", s.window)
	set("end", "end", s.end)
	set("limit", "limit", strconv.Itoa(s.limit))
	set("min-points", "min_points", strconv.Itoa(s.minPoints))
	if cmd.Flags().Changed("system") {
		v["system_id"] = s.systems
	}
	if cmd.Flags().Changed("kind") {
		v["kind"] = s.kinds
	}
	return v
}

func newAnalyticsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "analytics trends|anomalies|correlations",
		Short: "Trends, anomalies and correlations of activity per system or project",
		Long: `analytics computes, in DuckDB over the lake, how activity (records, entities or relations per hour or
day) moves per system or project: on a running server (--url) or on the lake itself (--lake).

A terminal gets a sparkline of each series; a pipe gets the numbers (--chart never|always decides).`,
	}
	cmd.AddCommand(newTrendsCmd(g), newAnomaliesCmd(g), newCorrelationsCmd(g))
	return cmd
}

// windowLine describes an answer's window.
func windowLine(w query.Window) string {
	return fmt.Sprintf("%s per %s by %s, %s .. %s (%d buckets)", w.Metric, w.Bucket, w.GroupBy, w.From, w.To, w.Buckets)
}

func statusLine(w io.Writer, status, message string, shown, total int) {
	if status != "ok" && message != "" {
		fmt.Fprintf(w, "%s: %s\n", status, message)
	}
	if total > shown {
		fmt.Fprintf(w, "(%d of %d series: the most active; --limit shows more)\n", shown, total)
	}
}

func newTrendsCmd(g *globals) *cobra.Command {
	var c client
	var o output
	var s seriesFlags
	cmd := &cobra.Command{
		Use:   "trends",
		Short: "Least-squares trend of each series: direction, slope, R², percent change",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			a, err := callAPI(cmd.Context(), g, &c, "/v1/analytics/trends", s.values(cmd),
				func(f *query.Function) func(context.Context, url.Values) (*query.TrendsResponse, error) {
					return f.Trends
				})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if o.format == "json" {
				return writeJSON(w, a)
			}
			fmt.Fprintln(w, windowLine(a.Window))
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "key\tdirection\tslope/bucket\tr2\tp\tchange\ttotal\tseries")
			for _, sr := range a.Series {
				if sr.Status != "ok" {
					fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t%s\t%s  (%s)\n", cell(sr.Key), num(sr.Total), o.seriesText(w, sr.Points), sr.Status)
					continue
				}
				dir := "-"
				if sr.Direction != nil {
					dir = *sr.Direction
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cell(sr.Key), dir, optNum(sr.Slope, "%+.4g"), optNum(sr.R2, "%.4f"),
					optNum(sr.PValue, "%.2g"), optNum(sr.PercentChange, "%+.1f%%"), num(sr.Total), o.seriesText(w, sr.Points))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			statusLine(w, a.Status, a.Message, len(a.Series), a.SeriesTotal)
			return nil
		},
	}
	c.flags(cmd)
	o.flags(cmd)
	s.register(cmd, "most active series to show (default 20)")
	return cmd
}

func newAnomaliesCmd(g *globals) *cobra.Command {
	var c client
	var o output
	var s seriesFlags
	var threshold float64
	cmd := &cobra.Command{
		Use:   "anomalies",
		Short: "Buckets whose z-score exceeds a threshold, per series",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			v := s.values(cmd)
			if cmd.Flags().Changed("threshold") {
				v.Set("threshold", strconv.FormatFloat(threshold, 'g', -1, 64))
			}
			a, err := callAPI(cmd.Context(), g, &c, "/v1/analytics/anomalies", v,
				func(f *query.Function) func(context.Context, url.Values) (*query.AnomaliesResponse, error) {
					return f.Anomalies
				})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if o.format == "json" {
				return writeJSON(w, a)
			}
			fmt.Fprintf(w, "%s, |z| > %g\n", windowLine(a.Window), a.Threshold)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "key\tmean\tstddev\tanomalies\tseries")
			for _, sr := range a.Series {
				count := strconv.Itoa(len(sr.Anomalies))
				if sr.Status != "ok" {
					count = sr.Status
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cell(sr.Key), optNum(sr.Mean, "%.4g"), optNum(sr.Stddev, "%.4g"), count, o.seriesText(w, sr.Points))
				for _, an := range sr.Anomalies {
					fmt.Fprintf(tw, "  %s\t%s\tz=%+.2f\t%s\t\n", an.T, num(an.Value), an.Z, an.Kind)
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(w, "(%d anomalies)\n", a.AnomalyCount)
			statusLine(w, a.Status, a.Message, len(a.Series), a.SeriesTotal)
			return nil
		},
	}
	c.flags(cmd)
	o.flags(cmd)
	s.register(cmd, "most active series to check (default 20)")
	cmd.Flags().Float64Var(&threshold, "threshold", 3, "|z| above which a bucket is anomalous")
	return cmd
}

func newCorrelationsCmd(g *globals) *cobra.Command {
	var c client
	var o output
	var s seriesFlags
	var minAbs, alpha float64
	var maxSeries int
	cmd := &cobra.Command{
		Use:   "correlations",
		Short: "Pearson correlation between the series of systems (or projects), strongest pairs first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			v := s.values(cmd)
			if cmd.Flags().Changed("min-abs") {
				v.Set("min_abs", strconv.FormatFloat(minAbs, 'g', -1, 64))
			}
			if cmd.Flags().Changed("alpha") {
				v.Set("alpha", strconv.FormatFloat(alpha, 'g', -1, 64))
			}
			if cmd.Flags().Changed("max-series") {
				v.Set("max_series", strconv.Itoa(maxSeries))
			}
			a, err := callAPI(cmd.Context(), g, &c, "/v1/analytics/correlations", v,
				func(f *query.Function) func(context.Context, url.Values) (*query.CorrelationsResponse, error) {
					return f.Correlations
				})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if o.format == "json" {
				return writeJSON(w, a)
			}
			fmt.Fprintf(w, "%s, |r| >= %g, alpha %g\n", windowLine(a.Window), a.MinAbs, a.Alpha)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "a\tb\tr\tn\tt\tp_value\tsignificant")
			for _, p := range a.Pairs {
				sig := "no"
				if p.Significant {
					sig = "yes"
				}
				r := fmt.Sprintf("%+.4f", p.R)
				if o.charts(w) {
					r += " " + sparkline.Bar(abs(p.R), 10)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%.3g\t%s\n", cell(p.A), cell(p.B), r, p.N, optNum(p.T, "%.3f"), p.PValue, sig)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(w, "(%d of %d pairs)\n", len(a.Pairs), a.PairsChecked)
			for _, key := range slices.Sorted(maps.Keys(a.Excluded)) {
				fmt.Fprintf(w, "excluded %s: %s\n", cell(key), a.Excluded[key])
			}
			statusLine(w, a.Status, a.Message, len(a.Series)+len(a.Excluded), a.SeriesTotal)
			return nil
		},
	}
	c.flags(cmd)
	o.flags(cmd)
	s.register(cmd, "most pairs to show (default 100)")
	cmd.Flags().Float64Var(&minAbs, "min-abs", 0.7, "least |r| of a pair to show")
	cmd.Flags().Float64Var(&alpha, "alpha", 0.05, "significance level")
	cmd.Flags().IntVar(&maxSeries, "max-series", 50, "most active series to compare")
	return cmd
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
