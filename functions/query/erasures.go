package query

import (
	"context"
	"net/http"
	"time"

	"github.com/akosha/akosha/functions/query/param"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/lake/erasures"
)

// GET /v1/erasures (issue 16): the erasure log, newest first. Who may:
// operators and admins (viewers are refused at the route: the log names
// who deleted what, which is an operator's business, not a reader's). A
// credential sees the rows of its tenant; rows of fleet-wide work (the
// expiry pass of compaction, which spans tenants) only the default
// tenant's admins; a fleet-wide admin everything. A row written before
// tenants were recorded counts as the tenant that owns its system now.

// Bounds of the limit parameter.
const (
	defaultErasures = 100
	maxErasures     = 1000
)

// erasuresTimeout bounds one answer's reads of the log (at most limit
// small objects, and a listing of the legacy records).
const erasuresTimeout = 30 * time.Second

// ErasuresResponse answers GET /v1/erasures (api/openapi.yaml).
type ErasuresResponse struct {
	Erasures []erasures.Record `json:"erasures"`
	// Truncated says more rows matched than limit: ask again with until
	// set to the last row's when.
	Truncated bool `json:"truncated"`
}

// erasureQuery parses the parameters of GET /v1/erasures: since
// (inclusive) and until (exclusive), RFC 3339, and limit.
func erasureQuery(r *http.Request) (erasures.Query, error) {
	p, err := param.Read(r.URL.Query(), []string{"since", "until", "limit"})
	if err != nil {
		return erasures.Query{}, err
	}
	var q erasures.Query
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		s, err := p.One(t.name)
		if err != nil {
			return q, err
		}
		if s == "" {
			continue
		}
		if *t.dst, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return q, badRequest("invalid_"+t.name, "%s %q: want an RFC 3339 time such as 2026-11-25T10:00:00Z", t.name, truncate(s, 60))
		}
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return q, badRequest(codeInvalidParam, "since must be before until")
	}
	if q.Limit, err = p.Int("limit", defaultErasures, 1, maxErasures); err != nil {
		return q, err
	}
	return q, nil
}

func (f *Function) serveErasures(w http.ResponseWriter, r *http.Request) {
	q, err := erasureQuery(r)
	if err != nil {
		httpx.WriteErr(w, apiError(err))
		return
	}
	q.Visible = f.erasuresVisible(r.Context())
	ctx, cancel := context.WithTimeout(r.Context(), erasuresTimeout)
	defer cancel()
	recs, more, err := f.lake.Erasures().List(ctx, q)
	if err != nil {
		httpx.WriteError(w, http.StatusServiceUnavailable, "erasures_unavailable", "read the erasure log (retry): "+err.Error())
		return
	}
	if recs == nil {
		recs = []erasures.Record{}
	}
	httpx.WriteJSON(w, http.StatusOK, ErasuresResponse{Erasures: recs, Truncated: more})
}

// erasuresVisible is which rows the caller of ctx sees (nil: all). The
// caller without a principal is the process itself, the lake's owner.
func (f *Function) erasuresVisible(ctx context.Context) func(tenant, system string) bool {
	p, ok := auth.FromContext(ctx)
	if !ok || p.IsFleetWide() {
		return nil
	}
	m := f.lake.Tenants().Current()
	mine := p.TenantName()
	return func(tenant, system string) bool {
		if tenant == "" && system != "" {
			tenant = m.TenantOf(system) // a legacy row: its system's owner now
		}
		if tenant == "" {
			return p.IsAdmin() && mine == auth.DefaultTenant
		}
		return tenant == mine
	}
}
