package query

// Analytics over the lake (GET /v1/analytics/trends, /anomalies,
// /correlations, the MCP tools analyze_trends, detect_anomalies and
// correlate_systems, and `akosha analytics`).
//
// The analyses are package analytics' (functions/query/analytics; its
// doc.go says how they are computed), as the knowledge graph is package
// graph's (graph.go): here are the HTTP handlers and MCP tools of both,
// their errors made API errors, and the views they read, at snapshots
// pinned for one answer and confined to the caller's tenant by run.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/akosha/akosha/functions/query/analytics"
	"github.com/akosha/akosha/functions/query/param"
	"github.com/akosha/akosha/functions/query/sqlexec"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/internal/mcp"
	"github.com/akosha/akosha/lake/tenants"
)

// Analytics limits.
const (
	MaxAnalyticsBuckets  = analytics.MaxBuckets
	MaxAnalyticsSeries   = analytics.MaxSeries
	MaxCorrelationSeries = analytics.MaxCorrelationSeries
)

// The answers of the analyses are package analytics', encoded as they are.
type (
	Point                = analytics.Point
	Window               = analytics.Window
	TrendSeries          = analytics.TrendSeries
	TrendsResponse       = analytics.TrendsResponse
	Anomaly              = analytics.Anomaly
	AnomalySeries        = analytics.AnomalySeries
	AnomaliesResponse    = analytics.AnomaliesResponse
	CorrelationPair      = analytics.CorrelationPair
	CorrelationsResponse = analytics.CorrelationsResponse
)

const codeInvalidParam = param.CodeInvalid

// pinnedViews are the tables at the snapshots one analytics or graph
// answer reads (analytics.Views, graph.Views), confined to the caller's
// tenant. Both are pinned when the answer starts, from the request's
// context: every statement of the answer reads the same snapshots, and
// runs through f.run with the caller's scope whatever context the package
// passes, so the packages read nothing but what the caller may see.
type pinnedViews struct {
	f     *Function
	snaps snapshots
	scope *tenants.Scope
}

// views pins the latest snapshots and the caller's scope for one answer.
func (f *Function) views(ctx context.Context) pinnedViews {
	return pinnedViews{f: f, snaps: f.snapshots(), scope: f.scope(ctx)}
}

func (v pinnedViews) Version(table string) int64 { return v.snaps[table].Version }

// Query runs one of the analytics' or the graph's own statements. Its
// failures are ours, not the client's (the parameters were validated and
// quoted), so they are internal errors, except a timeout, which says the
// lake is too large for the window.
func (v pinnedViews) Query(ctx context.Context, sql string, limit int) (*sqlexec.Result, error) {
	res, err := v.f.run(WithScope(ctx, v.scope), v.snaps, sql, limit)
	switch {
	case err == nil:
		return res, nil
	case errors.Is(err, sqlexec.ErrTimeout), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil, sqlError(err)
	}
	return nil, fmt.Errorf("analytics or graph statement: %w", err)
}

// Trends fits a least-squares line to each series (GET
// /v1/analytics/trends; v holds its query parameters).
func (f *Function) Trends(ctx context.Context, v url.Values) (*TrendsResponse, error) {
	out, err := analytics.Trends(ctx, f.views(ctx), v)
	return out, apiError(err)
}

// Anomalies scores each bucket of each series by its z-score against the
// series' mean and sample standard deviation (GET /v1/analytics/anomalies).
func (f *Function) Anomalies(ctx context.Context, v url.Values) (*AnomaliesResponse, error) {
	out, err := analytics.Anomalies(ctx, f.views(ctx), v)
	return out, apiError(err)
}

// Correlations computes the Pearson correlation of every pair among the
// most active series (GET /v1/analytics/correlations) and keeps the pairs
// with |r| >= min_abs, strongest first.
func (f *Function) Correlations(ctx context.Context, v url.Values) (*CorrelationsResponse, error) {
	out, err := analytics.Correlations(ctx, f.views(ctx), v)
	return out, apiError(err)
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
		"window":     map[string]any{"type": "string", "pattern": analytics.WindowPattern, "description": "how far back: 48h, 30d, 4w (default 30d, or 48h for hours); a whole number of buckets, at most 2000"},
		"end":        map[string]any{"type": "string", "description": "exclusive end of the window (RFC 3339 or YYYY-MM-DD), rounded down to a bucket; default now"},
		"min_points": map[string]any{"type": "integer", "minimum": 2, "default": analytics.DefaultMinPoints, "description": "least buckets holding data for a series to be analysed"},
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
				"limit": map[string]any{"type": "integer", "minimum": 1, "maximum": MaxAnalyticsSeries, "default": analytics.DefaultSeries, "description": "most active series to return"},
			}),
			Perm: auth.Read,
			Call: analyticsTool("analyze_trends", f.Trends),
		},
		{
			Name:        "detect_anomalies",
			Description: "Buckets whose count deviates from its series' mean by more than threshold sample standard deviations (z-score), per system or project.",
			InputSchema: objectSchema(seriesProperties, map[string]any{
				"threshold": map[string]any{"type": "number", "exclusiveMinimum": 0, "maximum": analytics.MaxThreshold, "default": analytics.DefaultThreshold, "description": "|z| above which a bucket is anomalous"},
				"limit":     map[string]any{"type": "integer", "minimum": 1, "maximum": MaxAnalyticsSeries, "default": analytics.DefaultSeries},
			}),
			Perm: auth.Read,
			Call: analyticsTool("detect_anomalies", f.Anomalies),
		},
		{
			Name:        "correlate_systems",
			Description: "Pearson correlation between the activity series of systems (or projects) over hourly or daily buckets; pairs with |r| >= min_abs, with the t statistic and p-value.",
			InputSchema: objectSchema(seriesProperties, map[string]any{
				"group_by":   map[string]any{"type": "string", "enum": []any{"system", "project"}, "default": "system"},
				"min_abs":    map[string]any{"type": "number", "minimum": 0, "maximum": 1, "default": analytics.DefaultMinAbs, "description": "least |r| of a pair to return"},
				"alpha":      map[string]any{"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1, "default": analytics.DefaultAlpha, "description": "significance level: significant means p_value < alpha"},
				"max_series": map[string]any{"type": "integer", "minimum": 2, "maximum": MaxCorrelationSeries, "default": analytics.DefaultMaxSeries, "description": "most active series compared"},
				"limit":      map[string]any{"type": "integer", "minimum": 1, "maximum": MaxAnalyticsSeries, "default": analytics.DefaultPairs, "description": "most pairs to return"},
			}),
			Perm: auth.Read,
			Call: analyticsTool("correlate_systems", f.Correlations),
		},
	}
}
