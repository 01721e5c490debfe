package auth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/akosha/akosha/internal/auth"
)

// With a limiter, Require rate-limits each principal after authenticating
// it: one token's burst does not spend another's.
func TestRequireAppliesTheLimiterPerPrincipal(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	lim, err := auth.NewMemoryLimiter(auth.Rate{PerSecond: 1, Burst: 2})
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(auth.Config{JWTSecret: secret, Limiter: lim})
	if err != nil {
		t.Fatal(err)
	}
	h := a.Require(auth.Read, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	call := func(sub string) *httptest.ResponseRecorder {
		tok, _ := auth.IssueToken(secret, sub, auth.RoleViewer, nil, time.Minute)
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for i, want := range []int{200, 200, 429} {
		if got := call("alice").Code; got != want {
			t.Errorf("alice request %d: %d, want %d", i, got, want)
		}
	}
	if rec := call("alice"); rec.Header().Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	if got := call("bob").Code; got != 200 {
		t.Errorf("bob: %d, want 200 (his own bucket)", got)
	}
}
