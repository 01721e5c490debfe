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

// Principal is the authenticated caller of a request.
type Principal struct {
	Name      string   // JWT sub, or API key name
	Role      string   // RoleViewer, RoleOperator or RoleAdmin
	SystemIDs []string // the systems it may touch; empty means all
}

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

// AllowsSystem reports whether p may touch the records of system id. A
// principal without a system list may touch every system. Handlers check it
// per record, since the system_id is in the body, not the URL.
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
