package auth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/akosha/akosha/internal/auth"
)

var (
	secret      = []byte("0123456789abcdef0123456789abcdef") // 32 bytes, the minimum
	otherSecret = []byte("fedcba9876543210fedcba9876543210")
)

const (
	viewerKey   = "view-key-0123456789"
	operatorKey = "oper-key-0123456789"
	scopedKey   = "scop-key-0123456789"
)

func newAuthenticator(t *testing.T) *auth.Authenticator {
	t.Helper()
	keys, err := auth.ParseAPIKeys("grafana:viewer:" + viewerKey + ", sb-fleet:operator:" + operatorKey +
		",sb-laptop:operator:" + scopedKey + ":sb-laptop|sb-desk")
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(auth.Config{JWTSecret: secret, APIKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// basic is the Authorization header of HTTP Basic credentials.
func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// sign makes a JWT with any algorithm and claims, as an attacker or a
// misconfigured client could.
func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// claims returns valid claims for an operator, with changes applied.
func claims(changes map[string]any) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"sub": "ci", "role": "operator", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range changes {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func TestAuthenticate(t *testing.T) {
	a := newAuthenticator(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	hs256 := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, secret, c) }

	tests := []struct {
		name    string
		header  string // "Authorization" unless set
		value   string
		want    auth.Principal
		wantErr error
		wantMsg string // in the error, when set
	}{
		{name: "valid JWT", value: "Bearer " + hs256(claims(nil)),
			want: auth.Principal{Name: "ci", Role: "operator"}},
		{name: "the scheme is case-insensitive", value: "bearer " + hs256(claims(nil)),
			want: auth.Principal{Name: "ci", Role: "operator"}},
		{name: "JWT limited to systems", value: "Bearer " + hs256(claims(map[string]any{"system_ids": []string{"sb-1", "sb-2"}})),
			want: auth.Principal{Name: "ci", Role: "operator", SystemIDs: []string{"sb-1", "sb-2"}}},
		{name: "expired within the 30 s leeway", value: "Bearer " + hs256(claims(map[string]any{"exp": now.Add(-10 * time.Second).Unix()})),
			want: auth.Principal{Name: "ci", Role: "operator"}},
		{name: "API key as a bearer token", value: "Bearer " + viewerKey,
			want: auth.Principal{Name: "grafana", Role: "viewer"}},
		{name: "API key in X-API-Key", header: "X-API-Key", value: operatorKey,
			want: auth.Principal{Name: "sb-fleet", Role: "operator"}},
		{name: "API key limited to systems", header: "X-API-Key", value: scopedKey,
			want: auth.Principal{Name: "sb-laptop", Role: "operator", SystemIDs: []string{"sb-laptop", "sb-desk"}}},

		{name: "no credentials", header: "X-Nothing", value: "x", wantErr: auth.ErrNoCredentials},
		{name: "expired", value: "Bearer " + hs256(claims(map[string]any{"exp": now.Add(-time.Minute).Unix()})),
			wantErr: auth.ErrInvalidCredentials, wantMsg: "token has expired"},
		{name: "no exp", value: "Bearer " + hs256(claims(map[string]any{"exp": nil})),
			wantErr: auth.ErrInvalidCredentials, wantMsg: "token has no exp"},
		{name: "not valid yet", value: "Bearer " + hs256(claims(map[string]any{"nbf": now.Add(time.Minute).Unix()})),
			wantErr: auth.ErrInvalidCredentials, wantMsg: "not valid yet"},
		{name: "issued in the future", value: "Bearer " + hs256(claims(map[string]any{"iat": now.Add(time.Minute).Unix()})),
			wantErr: auth.ErrInvalidCredentials, wantMsg: "issued in the future"},
		{name: "alg none", value: "Bearer " + sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)),
			wantErr: auth.ErrInvalidCredentials, wantMsg: "signature is invalid"},
		{name: "HS512, even with the right secret", value: "Bearer " + sign(t, jwt.SigningMethodHS512, secret, claims(nil)),
			wantErr: auth.ErrInvalidCredentials, wantMsg: "signature is invalid"},
		{name: "RS256", value: "Bearer " + sign(t, jwt.SigningMethodRS256, rsaKey, claims(nil)),
			wantErr: auth.ErrInvalidCredentials, wantMsg: "signature is invalid"},
		{name: "wrong secret", value: "Bearer " + sign(t, jwt.SigningMethodHS256, otherSecret, claims(nil)),
			wantErr: auth.ErrInvalidCredentials, wantMsg: "signature is invalid"},
		{name: "no sub", value: "Bearer " + hs256(claims(map[string]any{"sub": nil})),
			wantErr: auth.ErrInvalidCredentials, wantMsg: "no sub"},
		{name: "unknown role", value: "Bearer " + hs256(claims(map[string]any{"role": "root"})),
			wantErr: auth.ErrInvalidCredentials, wantMsg: "token role is not"},
		{name: "malformed JWT", value: "Bearer abc.def.ghi",
			wantErr: auth.ErrInvalidCredentials, wantMsg: "malformed"},
		{name: "unknown API key", value: "Bearer not-a-key-0123456789", wantErr: auth.ErrInvalidCredentials},
		{name: "unknown X-API-Key", header: "X-API-Key", value: "not-a-key-0123456789", wantErr: auth.ErrInvalidCredentials},
		{name: "a JWT is not an API key", header: "X-API-Key", value: hs256(claims(nil)), wantErr: auth.ErrInvalidCredentials},
		// Basic credentials are an API key's name and the key (Session-Buddy
		// puts them in its endpoint URL; httpx sends them as Basic auth).
		{name: "Basic: key name and key", value: basic("sb-laptop", scopedKey),
			want: auth.Principal{Name: "sb-laptop", Role: "operator", SystemIDs: []string{"sb-laptop", "sb-desk"}}},
		{name: "Basic: the scheme is case-insensitive", value: "basic " + basic("sb-fleet", operatorKey)[len("Basic "):],
			want: auth.Principal{Name: "sb-fleet", Role: "operator"}},
		{name: "Basic: a key under another key's name", value: basic("sb-fleet", scopedKey),
			wantErr: auth.ErrInvalidCredentials, wantMsg: "unknown API key name or key"},
		{name: "Basic: a name with a wrong key", value: basic("sb-laptop", "not-a-key-0123456789"),
			wantErr: auth.ErrInvalidCredentials, wantMsg: "unknown API key name or key"},
		{name: "Basic: a JWT as the password", value: basic("ci", hs256(claims(nil))),
			wantErr: auth.ErrInvalidCredentials},
		{name: "Basic: no name", value: basic("", scopedKey), wantErr: auth.ErrInvalidCredentials, wantMsg: "<key name>:<key>"},
		{name: "Basic: no colon", value: "Basic Z3JhZmFuYQ==", wantErr: auth.ErrInvalidCredentials, wantMsg: "<key name>:<key>"},
		{name: "Basic: not base64", value: "Basic %%%", wantErr: auth.ErrInvalidCredentials, wantMsg: "not base64"},
		{name: "Bearer without a token", value: "Bearer ", wantErr: auth.ErrInvalidCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/v1/search", nil)
			header := tt.header
			if header == "" {
				header = "Authorization"
			}
			r.Header.Set(header, tt.value)

			got, err := a.Authenticate(r)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("err = %q, want it to say %q", err, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if got.Name != tt.want.Name || got.Role != tt.want.Role || !slices.Equal(got.SystemIDs, tt.want.SystemIDs) {
				t.Errorf("principal = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRequire(t *testing.T) {
	a := newAuthenticator(t)
	viewer, _ := auth.IssueToken(secret, "analyst", auth.RoleViewer, nil, time.Hour)
	operator, _ := auth.IssueToken(secret, "ci", auth.RoleOperator, nil, time.Hour)
	admin, _ := auth.IssueToken(secret, "root", auth.RoleAdmin, nil, time.Hour)
	expired := sign(t, jwt.SigningMethodHS256, secret, claims(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}))

	tests := []struct {
		name       string
		perm       auth.Permission
		token      string // "": no Authorization header
		wantStatus int
		wantCode   string
	}{
		{"viewer reads", auth.Read, viewer, 200, ""},
		{"viewer writing is forbidden", auth.Write, viewer, 403, "forbidden"},
		{"viewer cannot administer", auth.Admin, viewer, 403, "forbidden"},
		{"operator reads", auth.Read, operator, 200, ""},
		{"operator writes", auth.Write, operator, 200, ""},
		{"operator cannot administer", auth.Admin, operator, 403, "forbidden"},
		{"admin reads", auth.Read, admin, 200, ""},
		{"admin writes", auth.Write, admin, 200, ""},
		{"admin administers", auth.Admin, admin, 200, ""},
		{"API key viewer writing is forbidden", auth.Write, viewerKey, 403, "forbidden"},
		{"missing header", auth.Read, "", 401, "unauthorized"},
		{"expired token", auth.Read, expired, 401, "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen auth.Principal
			h := a.Require(tt.perm, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				p, ok := auth.FromContext(r.Context())
				if !ok {
					t.Error("no principal in the request context")
				}
				seen = p
			}))
			r := httptest.NewRequest(http.MethodPost, "/v1/memories", nil)
			if tt.token != "" {
				r.Header.Set("Authorization", "Bearer "+tt.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)

			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantStatus == 200 {
				if seen.Name == "" {
					t.Error("handler did not see the principal")
				}
				return
			}
			var body struct{ Error struct{ Code string } }
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != tt.wantCode {
				t.Errorf("body = %s, want error code %q", rec.Body, tt.wantCode)
			}
			challenge := rec.Header().Get("WWW-Authenticate")
			if tt.wantStatus == 401 && !strings.HasPrefix(challenge, "Bearer") {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", challenge)
			}
			if all := rec.Header().Values("WWW-Authenticate"); tt.wantStatus == 401 && !slices.ContainsFunc(all, func(c string) bool {
				return strings.HasPrefix(c, "Basic ")
			}) {
				t.Errorf("WWW-Authenticate = %q, want a Basic challenge too", all)
			}
			if tt.wantStatus == 403 && challenge != "" {
				t.Errorf("WWW-Authenticate = %q on a 403; credentials were fine", challenge)
			}
		})
	}
}

// A page's own fetch() (the console at /ui) gets no Basic challenge, which
// would make the browser open its login box over the console's form; a
// navigation and a client without Sec-Fetch-* headers still get both.
func TestNoBasicChallengeToBrowserScripts(t *testing.T) {
	a := newAuthenticator(t)
	h := a.Require(auth.Read, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for mode, wantBasic := range map[string]bool{"": true, "navigate": true, "cors": false, "same-origin": false} {
		r := httptest.NewRequest(http.MethodPost, "/v1/sql", nil)
		if mode != "" {
			r.Header.Set("Sec-Fetch-Mode", mode)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		all := rec.Header().Values("WWW-Authenticate")
		basic := slices.ContainsFunc(all, func(c string) bool { return strings.HasPrefix(c, "Basic ") })
		if rec.Code != http.StatusUnauthorized || basic != wantBasic || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("Sec-Fetch-Mode %q: %d, WWW-Authenticate %q; want 401 with a Basic challenge %v", mode, rec.Code, all, wantBasic)
		}
	}
}

func TestDisabledMakesEveryoneTheDevAdmin(t *testing.T) {
	a, err := auth.New(auth.Config{Disabled: true})
	if err != nil {
		t.Fatal(err)
	}
	var seen auth.Principal
	h := a.Require(auth.Admin, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = auth.FromContext(r.Context())
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/admin", nil))

	if rec.Code != 200 || seen.Name != "dev" || !seen.IsAdmin() {
		t.Errorf("status %d, principal %+v; want 200 as admin dev", rec.Code, seen)
	}
}

func TestPrincipal(t *testing.T) {
	tests := []struct {
		p                          auth.Principal
		read, write, admin         bool
		allowsSB1, allowsSB2, allX bool
	}{
		{p: auth.Principal{Role: "viewer"}, read: true, allowsSB1: true, allowsSB2: true, allX: true},
		{p: auth.Principal{Role: "operator"}, read: true, write: true, allowsSB1: true, allowsSB2: true, allX: true},
		{p: auth.Principal{Role: "admin"}, read: true, write: true, admin: true, allowsSB1: true, allowsSB2: true, allX: true},
		{p: auth.Principal{Role: "operator", SystemIDs: []string{"sb-1"}}, read: true, write: true, allowsSB1: true},
		// An unknown role holds no permission; system lists are a separate limit.
		{p: auth.Principal{Role: "superuser"}, allowsSB1: true, allowsSB2: true, allX: true},
	}
	for _, tt := range tests {
		p := tt.p
		got := []bool{p.CanRead(), p.CanWrite(), p.IsAdmin(), p.AllowsSystem("sb-1"), p.AllowsSystem("sb-2"), p.AllowsSystem("x")}
		want := []bool{tt.read, tt.write, tt.admin, tt.allowsSB1, tt.allowsSB2, tt.allX}
		if !slices.Equal(got, want) {
			t.Errorf("%+v: read/write/admin/sb-1/sb-2/x = %v, want %v", p, got, want)
		}
		if p.Has(auth.Read) != tt.read || p.Has(auth.Write) != tt.write || p.Has(auth.Admin) != tt.admin {
			t.Errorf("%+v: Has disagrees with CanRead/CanWrite/IsAdmin", p)
		}
	}
}

func TestIssueToken(t *testing.T) {
	a := newAuthenticator(t)
	tok, err := auth.IssueToken(secret, "sb-laptop", auth.RoleOperator, []string{"sb-laptop"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	p, err := a.Authenticate(r)
	if err != nil || p.Name != "sb-laptop" || p.Role != "operator" || !slices.Equal(p.SystemIDs, []string{"sb-laptop"}) {
		t.Errorf("Authenticate(IssueToken(...)) = %+v, %v", p, err)
	}

	bad := []struct {
		name   string
		secret []byte
		sub    string
		role   string
		ids    []string
		ttl    time.Duration
	}{
		{"short secret", secret[:31], "a", "viewer", nil, time.Hour},
		{"no subject", secret, "", "viewer", nil, time.Hour},
		{"unknown role", secret, "a", "root", nil, time.Hour},
		{"bad system_id", secret, "a", "viewer", []string{"a b"}, time.Hour},
		{"no ttl", secret, "a", "viewer", nil, 0},
	}
	for _, tt := range bad {
		if _, err := auth.IssueToken(tt.secret, tt.sub, tt.role, tt.ids, tt.ttl); err == nil {
			t.Errorf("%s: IssueToken succeeded, want an error", tt.name)
		}
	}
}

// TestTenantClaims: the JWT claim tenant and the fifth field of an API key
// reach the principal; "*" is a fleet-wide admin's only; no tenant is the
// default tenant.
func TestTenantClaims(t *testing.T) {
	a := newAuthenticator(t)
	tests := []struct {
		name, role, tenant string
		wantTenant         string
		fleet              bool
		wantErr            bool
	}{
		{name: "no tenant", role: "viewer", wantTenant: auth.DefaultTenant},
		{name: "a tenant", role: "operator", tenant: "team-a", wantTenant: "team-a"},
		{name: "fleet-wide admin", role: "admin", tenant: "*", wantTenant: "*", fleet: true},
		{name: "tenant admin", role: "admin", tenant: "team-b", wantTenant: "team-b"},
		{name: "fleet-wide viewer refused", role: "viewer", tenant: "*", wantErr: true},
		{name: "bad tenant name refused", role: "viewer", tenant: "../x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Signed by hand, so that IssueTenantToken's own checks do not
			// hide the authenticator's.
			c := auth.Claims{Role: tt.role, Tenant: tt.tenant, RegisteredClaims: jwt.RegisteredClaims{
				Subject: "s", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}}
			tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			p, err := a.Authenticate(r)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Authenticate = %+v, want an error", p)
				}
				if _, err := auth.IssueTenantToken(secret, "s", tt.role, tt.tenant, nil, time.Hour); err == nil {
					t.Error("IssueTenantToken accepted what Authenticate refuses")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.TenantName() != tt.wantTenant || p.IsFleetWide() != tt.fleet {
				t.Errorf("tenant %q fleet-wide %v, want %q %v", p.TenantName(), p.IsFleetWide(), tt.wantTenant, tt.fleet)
			}
		})
	}

	keys, err := auth.ParseAPIKeys("c:viewer:k0123456789abcdef::team-c")
	if err != nil {
		t.Fatal(err)
	}
	ka, err := auth.New(auth.Config{APIKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-API-Key", "k0123456789abcdef")
	if p, err := ka.Authenticate(r); err != nil || p.TenantName() != "team-c" || p.IsFleetWide() {
		t.Errorf("API key principal = %+v, %v; want tenant team-c", p, err)
	}
}
