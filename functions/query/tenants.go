package query

import (
	"context"
	"net/http"
	"slices"

	"github.com/akosha/akosha/functions/query/sqlexec"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/lake/tenants"
)

// Tenants: every read is confined to the systems of the caller's tenant
// where the data is read, not at the routes: run (the SQL planner, which
// also serves lookups, GET /v1/systems, analytics and the graph) prunes
// files to the tenant's systems and hands DuckDB confined views
// (sqlexec.Confinement), and search filters its candidates by system
// inside the index walks and scans. A route added later reads through
// them and so cannot forget it.
//
// The scope comes from the request's principal (auth.Require puts it in
// every request's context) and the lake's system -> tenant mapping. A
// caller without a principal is the process itself (akosha sql --lake,
// tests): the lake's owner, who sees everything.

type scopeKey struct{}

// WithScope returns ctx reading only what scope sees, whatever its
// principal: for a caller computing one scope for a whole request, and for
// in-process callers that read on a tenant's behalf.
func WithScope(ctx context.Context, s *tenants.Scope) context.Context {
	return context.WithValue(ctx, scopeKey{}, s)
}

// scope is what the caller of ctx may read. The mapping is read after the
// caller took its snapshots (it only moves forward), so it covers every
// system those snapshots hold: ingest claims a system before committing
// its records, and the poll refreshes the mapping after the tables.
func (f *Function) scope(ctx context.Context) *tenants.Scope {
	if s, ok := ctx.Value(scopeKey{}).(*tenants.Scope); ok {
		return s
	}
	p, ok := auth.FromContext(ctx)
	if !ok {
		return tenants.Everything()
	}
	return f.lake.Tenants().Current().ScopeOf(p.TenantName(), p.IsFleetWide())
}

// pinScope fixes the caller's scope for the rest of a request, so that its
// cache key and its reads agree.
func (f *Function) pinScope(ctx context.Context) (context.Context, *tenants.Scope) {
	s := f.scope(ctx)
	return WithScope(ctx, s), s
}

// confinement is the views' form of s; nil when s sees everything.
func confinement(s *tenants.Scope) *sqlexec.Confinement {
	if s.All() {
		return nil
	}
	systems, deny := s.List()
	return &sqlexec.Confinement{Systems: systems, Deny: deny}
}

// confineTo is confinement(s) narrowed to the systems a statement names
// (nil: it names none): a shorter list, which DuckDB can also use to skip
// row groups. The rows shown are the same.
func confineTo(s *tenants.Scope, named map[string]bool) *sqlexec.Confinement {
	c := confinement(s)
	if c == nil || named == nil {
		return c
	}
	var in []string
	for sys := range named {
		if s.Allows(sys) {
			in = append(in, sys)
		}
	}
	slices.Sort(in)
	return &sqlexec.Confinement{Systems: in}
}

// onlyShown says of a data file whether every row of it belongs to a
// system the scope s shows (sqlexec.File.Allowed), from the systems the
// key index read with its keys: such a file is read without the row test
// and the masks. It asks the scope, not a confinement narrowed to the
// systems a statement names: the rows of the tenant's other systems such
// a file also holds are the tenant's to see, and the statement's own
// filter drops them. Always false for a scope that sees everything (no
// confinement: confinement(s) is nil).
func onlyShown(keys *keyIndex, s *tenants.Scope) func(fileKey string) bool {
	if s.All() {
		return func(string) bool { return false }
	}
	return func(key string) bool { return keys.OnlySystems(key, s.Key(), s.Allows) }
}

// fleetOnly refuses a route whose answer spans every tenant (the lake's
// overview, raw objects) to a caller confined to some.
func (f *Function) fleetOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !f.scope(r.Context()).All() {
			httpx.WriteError(w, http.StatusForbidden, httpx.CodeForbidden,
				"this answer spans every tenant: it needs a credential that reads the whole fleet (an admin with tenant \"*\")")
			return
		}
		h(w, r)
	}
}
