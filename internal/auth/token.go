package auth

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/akosha/akosha/schemas"
)

// Leeway is the clock skew allowed when checking exp, nbf and iat.
const Leeway = 30 * time.Second

// Claims are the JWT claims Akosha reads.
type Claims struct {
	Role      string   `json:"role"`
	SystemIDs []string `json:"system_ids,omitempty"`
	// Tenant is the tenant the token reads: absent for the default
	// tenant, "*" for a fleet-wide admin.
	Tenant string `json:"tenant,omitempty"`
	jwt.RegisteredClaims
}

func newParser() *jwt.Parser {
	return jwt.NewParser(
		// The only algorithm accepted, whatever the token's header says: this
		// refuses "none" and the RS256/HS256 confusion attack.
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(), // a token that never expires cannot be revoked
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
	)
}

// verifyJWT checks token's signature and claims.
func (a *Authenticator) verifyJWT(token string) (Principal, error) {
	var c Claims
	_, err := a.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		// WithValidMethods already refused every other algorithm; checking the
		// type again costs nothing and survives a careless edit of the parser.
		if _, ok := t.Method.(*jwt.SigningMethodHMAC); !ok {
			return nil, fmt.Errorf("signing method %v", t.Header["alg"])
		}
		return a.secret, nil
	})
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %s", ErrInvalidCredentials, jwtReason(err))
	}
	switch {
	case c.Subject == "":
		return Principal{}, fmt.Errorf("%w: token has no sub", ErrInvalidCredentials)
	case !ValidRole(c.Role):
		// The role is not echoed: it is the client's text, bound for a header.
		return Principal{}, fmt.Errorf("%w: token role is not admin, operator or viewer", ErrInvalidCredentials)
	}
	for _, id := range c.SystemIDs {
		if !schemas.ValidSystemID(id) {
			return Principal{}, fmt.Errorf("%w: token system_ids holds an invalid system_id", ErrInvalidCredentials)
		}
	}
	if err := checkTenant(c.Tenant, c.Role); err != nil {
		// The claim is not echoed beyond what checkTenant says of it.
		return Principal{}, fmt.Errorf("%w: token tenant: %s", ErrInvalidCredentials, err.Error())
	}
	return Principal{Name: c.Subject, Role: c.Role, SystemIDs: c.SystemIDs, Tenant: c.Tenant}, nil
}

// jwtReason words a parse error for the client. The library's own messages
// are accurate but long and nested; these say what to fix.
func jwtReason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "token signature is invalid (only HS256 tokens signed with the server's secret are accepted)"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token is not valid yet (nbf)"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token is issued in the future (iat)"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "token has no exp"
	default:
		return "token is invalid"
	}
}

// IssueToken returns an HS256 JWT for sub with role, limited to systemIDs
// (none: all systems), valid from now for ttl, of the default tenant.
func IssueToken(secret []byte, sub, role string, systemIDs []string, ttl time.Duration) (string, error) {
	return IssueTenantToken(secret, sub, role, "", systemIDs, ttl)
}

// IssueTenantToken is IssueToken for a tenant ("" the default, FleetWide
// for an admin over every tenant).
func IssueTenantToken(secret []byte, sub, role, tenant string, systemIDs []string, ttl time.Duration) (string, error) {
	switch {
	case len(secret) < MinSecretLen:
		return "", fmt.Errorf("auth: issue token: secret is %d bytes, want at least %d", len(secret), MinSecretLen)
	case sub == "":
		return "", errors.New("auth: issue token: empty subject")
	case !ValidRole(role):
		return "", fmt.Errorf("auth: issue token: role %q is not admin, operator or viewer", role)
	case ttl <= 0:
		return "", fmt.Errorf("auth: issue token: ttl %v is not positive", ttl)
	}
	for _, id := range systemIDs {
		if !schemas.ValidSystemID(id) {
			return "", fmt.Errorf("auth: issue token: invalid system_id %q", id)
		}
	}
	if err := checkTenant(tenant, role); err != nil {
		return "", fmt.Errorf("auth: issue token: %w", err)
	}
	now := time.Now()
	claims := Claims{
		Tenant:    tenant,
		Role:      role,
		SystemIDs: slices.Clone(systemIDs),
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   sub,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("auth: sign token: %w", err)
	}
	return s, nil
}
