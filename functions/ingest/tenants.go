package ingest

import (
	"context"
	"errors"
	"net/http"

	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/lake/tenants"
)

// claim makes sure the caller's tenant owns every system of systems before
// their records are written: systems nobody owns become its tenant's (in the
// lake's systems table, committed before the records: see lake/tenants), a
// system another tenant owns refuses the whole request with 403 and writes
// nothing. A fleet-wide admin writes into any tenant's systems; the new
// systems it writes become the default tenant's.
func (f *Function) claim(ctx context.Context, systems []string) error {
	if len(systems) == 0 {
		return nil
	}
	p, ok := auth.FromContext(ctx)
	tenant, by := tenants.DefaultTenant, "anonymous"
	if ok {
		tenant, by = p.TenantName(), p.Name
	}
	reg := f.lake.Tenants()
	if ok && p.IsFleetWide() {
		var unclaimed []string
		m := reg.Current()
		for _, s := range systems {
			if !m.Claimed(s) {
				unclaimed = append(unclaimed, s)
			}
		}
		err := reg.Claim(ctx, unclaimed, tenants.DefaultTenant, by)
		var fe *tenants.ForeignError
		if errors.As(err, &fe) {
			return nil // claimed meanwhile by a tenant: a fleet-wide admin writes it anyway
		}
		return claimError(err)
	}
	return claimError(reg.Claim(ctx, systems, tenant, by))
}

func claimError(err error) error {
	var fe *tenants.ForeignError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe):
		// The same words whether the system exists in another tenant or
		// not would say too much; it does exist, but naming the owner would
		// say more.
		return httpx.Errorf(http.StatusForbidden, httpx.CodeForbidden,
			"system %q belongs to another tenant: this token may not write it", fe.System)
	}
	return httpx.Errorf(http.StatusServiceUnavailable, "commit_failed",
		"the records were not stored: recording the systems' tenant failed (retry): %v", err)
}

// ownsSystem refuses a delete in a system of another tenant (as the same
// 403 a write gets), reading the mapping afresh first: deletes are rare and
// must not act on a stale one.
func (f *Function) ownsSystem(ctx context.Context, sys string) error {
	p, ok := auth.FromContext(ctx)
	if !ok || p.IsFleetWide() {
		return nil
	}
	m, err := f.lake.Tenants().Refresh(ctx)
	if err != nil {
		return httpx.Errorf(http.StatusServiceUnavailable, "tenants_unavailable", "reading the systems' tenants failed (retry): %v", err)
	}
	if m.TenantOf(sys) != p.TenantName() {
		return httpx.Errorf(http.StatusForbidden, httpx.CodeForbidden,
			"system %q belongs to another tenant: this token may not delete its records", sys)
	}
	return nil
}
