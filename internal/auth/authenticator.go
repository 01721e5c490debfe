package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/akosha/akosha/internal/httpx"
)

// ErrNoCredentials means the request carries no credential at all.
var ErrNoCredentials = errors.New("no credentials")

// ErrInvalidCredentials means the request's credential was not accepted. The
// error wrapping it says why in words fit for the client ("token has
// expired"), never echoing the credential.
var ErrInvalidCredentials = errors.New("invalid credentials")

// devPrincipal is who every request is when authentication is off.
var devPrincipal = Principal{Name: "dev", Role: RoleAdmin}

// Authenticator checks the credentials of requests. It is safe for
// concurrent use and immutable after New.
type Authenticator struct {
	disabled bool
	parser   *jwt.Parser
	secret   []byte // nil: JWTs are not accepted
	keys     []storedKey
	limiter  Limiter // nil: no rate limit
}

type storedKey struct {
	hash      [sha256.Size]byte
	principal Principal
}

// New returns an Authenticator for cfg. It rejects a config that would
// accept nothing (unless Disabled), a JWT secret shorter than MinSecretLen
// and invalid API keys.
func New(cfg Config) (*Authenticator, error) {
	if cfg.Disabled {
		return &Authenticator{disabled: true}, nil
	}
	if len(cfg.JWTSecret) == 0 && len(cfg.APIKeys) == 0 {
		return nil, errors.New("auth: no JWT secret and no API keys: nothing could ever authenticate")
	}
	a := &Authenticator{parser: newParser(), limiter: cfg.Limiter}
	if len(cfg.JWTSecret) > 0 {
		if len(cfg.JWTSecret) < MinSecretLen {
			return nil, fmt.Errorf("auth: %s is %d bytes; HS256 needs at least %d random bytes",
				EnvJWTSecret, len(cfg.JWTSecret), MinSecretLen)
		}
		a.secret = slices.Clone(cfg.JWTSecret)
	}
	for _, k := range cfg.APIKeys {
		if err := k.validate(); err != nil {
			return nil, fmt.Errorf("auth: API key: %w", err)
		}
		a.keys = append(a.keys, storedKey{
			hash:      hashKey(k.Key),
			principal: Principal{Name: k.Name, Role: k.Role, SystemIDs: slices.Clone(k.SystemIDs), Tenant: k.Tenant},
		})
	}
	return a, nil
}

// Authenticate returns the principal of r's credential. Its errors wrap
// ErrNoCredentials or ErrInvalidCredentials.
func (a *Authenticator) Authenticate(r *http.Request) (Principal, error) {
	if a.disabled {
		return devPrincipal, nil
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, _ := strings.Cut(h, " ")
		token = strings.TrimSpace(token)
		if strings.EqualFold(scheme, "Basic") && token != "" {
			return a.basic(token)
		}
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			return Principal{}, fmt.Errorf("%w: Authorization must be \"Bearer <token>\" or \"Basic <name:key>\"", ErrInvalidCredentials)
		}
		if p, ok := a.lookupKey(token); ok {
			return p, nil
		}
		if a.secret != nil && strings.Count(token, ".") == 2 {
			return a.verifyJWT(token)
		}
		return Principal{}, fmt.Errorf("%w: unknown token", ErrInvalidCredentials)
	}
	if key := r.Header.Get("X-API-Key"); key != "" {
		if p, ok := a.lookupKey(key); ok {
			return p, nil
		}
		return Principal{}, fmt.Errorf("%w: unknown API key", ErrInvalidCredentials)
	}
	return Principal{}, ErrNoCredentials
}

// basic checks HTTP Basic credentials (RFC 7617): the user is an API key's
// name and the password the key. Session-Buddy has no setting for a token,
// only an endpoint URL, and its HTTP client (httpx) sends a URL's userinfo
// as Basic auth, so https://NAME:KEY@host/mcp gets it in over TLS. Both
// halves must match one key: the key alone is not enough under another
// name, so a log line showing the user names the key that was used. JWTs
// are not accepted this way.
func (a *Authenticator) basic(token string) (Principal, error) {
	raw, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: Basic credentials are not base64", ErrInvalidCredentials)
	}
	name, key, ok := strings.Cut(string(raw), ":")
	if !ok || name == "" || key == "" {
		return Principal{}, fmt.Errorf("%w: Basic credentials must be \"<key name>:<key>\"", ErrInvalidCredentials)
	}
	p, found := a.lookupKey(key)
	if !found || subtle.ConstantTimeCompare([]byte(p.Name), []byte(name)) != 1 {
		return Principal{}, fmt.Errorf("%w: unknown API key name or key", ErrInvalidCredentials)
	}
	return p, nil
}

// lookupKey finds the API key whose hash matches token's. It compares with
// every key, in constant time, so the time taken says nothing about which key
// (or how much of one) matched.
func (a *Authenticator) lookupKey(token string) (Principal, bool) {
	h := hashKey(token)
	found := -1
	for i := range a.keys {
		if subtle.ConstantTimeCompare(h[:], a.keys[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Principal{}, false
	}
	p := a.keys[found].principal
	p.SystemIDs = slices.Clone(p.SystemIDs) // handlers must not alter the stored key
	return p, true
}

// Require returns a handler that lets through only requests whose credential
// holds perm, with their Principal in the request context (FromContext):
//
//   - no credential, or one not accepted: 401 unauthorized with
//     WWW-Authenticate: Bearer (RFC 6750);
//   - a valid credential without perm: 403 forbidden.
func (a *Authenticator) Require(perm Permission, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r)
		if err != nil {
			unauthorized(w, r, err)
			return
		}
		if !p.Has(perm) {
			slog.Info("auth: forbidden", "principal", p.Name, "role", p.Role, "needs", perm.String(),
				"method", r.Method, "path", r.URL.Path)
			httpx.WriteError(w, http.StatusForbidden, httpx.CodeForbidden,
				fmt.Sprintf("role %s lacks the %s permission", p.Role, perm))
			return
		}
		h := next
		if a.limiter != nil {
			h = RateLimit(a.limiter, next)
		}
		h.ServeHTTP(w, r.WithContext(NewContext(r.Context(), p)))
	})
}

func unauthorized(w http.ResponseWriter, r *http.Request, err error) {
	challenge := `Bearer realm="akosha"`
	msg := "authentication required: send Authorization: Bearer <token>, X-API-Key, or Basic credentials (API key name and key)"
	if errors.Is(err, ErrInvalidCredentials) {
		// The description is our own text, never the credential's; RFC 6750
		// still forbids '"' and '\' in it.
		desc := strings.NewReplacer(`"`, "'", `\`, "/").Replace(err.Error())
		challenge += `, error="invalid_token", error_description="` + desc + `"`
		msg = err.Error()
		slog.Info("auth: rejected credentials", "reason", err.Error(), "remote", r.RemoteAddr,
			"method", r.Method, "path", r.URL.Path)
	}
	w.Header().Set("WWW-Authenticate", challenge)
	// A browser answers a Basic challenge to a page's own fetch() with its
	// login box, over the console's sign-in form (/ui). Browsers mark such
	// calls Sec-Fetch-Mode (cors, same-origin, no-cors); Session-Buddy and
	// other clients that use Basic send no Sec-Fetch-* header.
	if mode := r.Header.Get("Sec-Fetch-Mode"); mode == "" || mode == "navigate" {
		w.Header().Add("WWW-Authenticate", `Basic realm="akosha", charset="UTF-8"`)
	}
	httpx.WriteError(w, http.StatusUnauthorized, httpx.CodeUnauthorized, msg)
}
