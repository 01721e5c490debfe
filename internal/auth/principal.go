package auth

import (
	"context"
	"fmt"
	"slices"
)

// Roles, from least to most privileged.
const (
	RoleViewer   = "viewer"
	RoleOperator = "operator"
	RoleAdmin    = "admin"
)

// ValidRole reports whether role is one of the three roles.
func ValidRole(role string) bool {
	switch role {
	case RoleViewer, RoleOperator, RoleAdmin:
		return true
	}
	return false
}

// Permission is what an endpoint requires of its caller.
type Permission int

const (
	Read  Permission = iota + 1 // SQL, search, reading records: every role
	Write                       // ingest: operator and admin
	Admin                       // jobs and admin endpoints: admin only
)

func (p Permission) String() string {
	switch p {
	case Read:
		return "read"
	case Write:
		return "write"
	case Admin:
		return "admin"
	}
	return fmt.Sprintf("Permission(%d)", int(p))
}

// DefaultTenant is the tenant of every credential and every system that
// names none. A deployment that configures no tenant is this one tenant,
// which reads every system: today's single-team Akosha.
const DefaultTenant = "default"

// FleetWide is the tenant value of a credential that reads every tenant's
// systems. Only an admin may hold it, and only when it says so: an admin
// without a tenant is the default tenant's admin.
const FleetWide = "*"

// Principal is the authenticated caller of a request.
type Principal struct {
	Name      string   // JWT sub, or API key name
	Role      string   // RoleViewer, RoleOperator or RoleAdmin
	SystemIDs []string // the systems it may write; empty means all of its tenant
	// Tenant is the tenant whose systems it reads (and may write):
	// DefaultTenant when the credential names none, FleetWide for an admin
	// over every tenant. Use TenantName, which maps "" to DefaultTenant.
	Tenant string
}

// TenantName is p's tenant, DefaultTenant when none was set.
func (p Principal) TenantName() string {
	if p.Tenant == "" {
		return DefaultTenant
	}
	return p.Tenant
}

// IsFleetWide reports whether p reads every tenant (an admin whose tenant
// is FleetWide).
func (p Principal) IsFleetWide() bool { return p.Tenant == FleetWide && p.Role == RoleAdmin }

// CanRead reports whether p may read: every role may.
func (p Principal) CanRead() bool { return ValidRole(p.Role) }

// CanWrite reports whether p may ingest.
func (p Principal) CanWrite() bool { return p.Role == RoleOperator || p.Role == RoleAdmin }

// IsAdmin reports whether p may do everything.
func (p Principal) IsAdmin() bool { return p.Role == RoleAdmin }

// Has reports whether p holds perm.
func (p Principal) Has(perm Permission) bool {
	switch perm {
	case Read:
		return p.CanRead()
	case Write:
		return p.CanWrite()
	case Admin:
		return p.IsAdmin()
	}
	return false
}

// AllowsSystem reports whether p's system list lets it write system id. A
// principal without a system list may write every system of its tenant
// (the tenant check is the lake's: functions/ingest asks lake/tenants).
// Handlers check it per record, since the system_id is in the body, not
// the URL.
func (p Principal) AllowsSystem(id string) bool {
	return len(p.SystemIDs) == 0 || slices.Contains(p.SystemIDs, id)
}

type principalKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal Require put in ctx.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
