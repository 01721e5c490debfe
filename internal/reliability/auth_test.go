package reliability

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/akosha/akosha/functions/ingest"
	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/schemas"
)

// authLake is both functions on one lake behind one authenticator, as a
// deployment runs them.
type authLake struct {
	lake          *lake.Lake
	ingest, query *httptest.Server
}

func startAuthLake(t *testing.T, a *auth.Authenticator) *authLake {
	t.Helper()
	ctx := context.Background()
	l, err := lake.Open(ctx, testenv.Local(t))
	if err != nil {
		t.Fatal(err)
	}
	ing, err := ingest.Open(l, a, ingest.Config{}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	q, err := query.Open(l, a, query.Config{CacheDir: t.TempDir(), SQLTimeout: time.Minute}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s := &authLake{lake: l, ingest: httptest.NewServer(http.HandlerFunc(ing.Handle)), query: httptest.NewServer(http.HandlerFunc(q.Handle))}
	t.Cleanup(func() {
		s.ingest.Close()
		s.query.Close()
		ing.Stop(ctx)
		q.Stop(ctx)
	})
	return s
}

// rows is what the lake holds, from a fresh read of the log.
func (s *authLake) rows(t *testing.T) (version, n int64) {
	t.Helper()
	snap, err := delta.NewTable(s.lake.Store(), schemas.TableMemories).Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for f := range snap.AllFiles() {
		st, _ := f.ParsedStats()
		n += st.NumRecords
	}
	return snap.Version, n
}

// call makes one request and returns status, headers and body.
func call(t *testing.T, method, url, contentType string, body []byte, hdr http.Header) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// signWith makes a JWT with any algorithm, key and claims, as an attacker
// would.
func signWith(t *testing.T, m jwt.SigningMethod, key any, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAuthRefusals tries every kind of credential that must be refused
// against both functions over HTTP, REST and MCP: each answers the right
// status and error code, 401s carry WWW-Authenticate, and not one refused
// request writes anything.
func TestAuthRefusals(t *testing.T) {
	secret := []byte("reliability-secret-0123456789abcdef")
	keys := map[string]string{
		"viewer":   "viewer-key-0123456789abcdef",
		"operator": "operator-key-0123456789abcdef",
		"scoped":   "scoped-key-0123456789abcdef",
	}
	a, err := auth.New(auth.Config{JWTSecret: secret, APIKeys: []auth.APIKey{
		{Name: "analyst", Role: auth.RoleViewer, Key: keys["viewer"]},
		{Name: "pusher", Role: auth.RoleOperator, Key: keys["operator"]},
		{Name: "laptop", Role: auth.RoleOperator, Key: keys["scoped"], SystemIDs: []string{"sys-a"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	s := startAuthLake(t, a)
	now := time.Now()
	claims := func(role string, extra map[string]any) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "tester", "role": role, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		for k, v := range extra {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	hs256 := func(role string, extra map[string]any) string {
		return signWith(t, jwt.SigningMethodHS256, secret, claims(role, extra))
	}
	// A viewer's token with the payload changed to admin, signature kept.
	viewer := hs256(auth.RoleViewer, nil)
	parts := strings.Split(viewer, ".")
	payload, _ := json.Marshal(claims(auth.RoleAdmin, nil))
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]

	memBody := func(sys string) []byte {
		return newBatch("", sys, uint64(len(sys)), 2, false, time.Now()).body
	}
	mixed := func() []byte { // NDJSON: each record names its own system
		var b bytes.Buffer
		for i, sys := range []string{"sys-a", "sys-b"} {
			line, _ := json.Marshal(map[string]any{"system_id": sys, "id": fmt.Sprintf("mixed-%d", i), "content": "x", "created_at": time.Now().UTC()})
			b.Write(line)
			b.WriteByte('\n')
		}
		return b.Bytes()
	}()
	storeMemory := func(sys string) []byte {
		b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": map[string]any{
			"name": "store_memory", "arguments": map[string]any{"memory_id": "mcp-1", "text": "hello",
				"metadata": map[string]any{"source": sys, "created_at": time.Now().UTC().Format(time.RFC3339)}}}})
		return b
	}
	sqlBody := []byte(`{"sql": "SELECT count(*) FROM memories"}`)

	type req struct {
		fn, method, path, ctype string
		body                    []byte
	}
	write := req{"ingest", "POST", "/v1/memories", "application/json", memBody("sys-a")}
	writeB := req{"ingest", "POST", "/v1/memories", "application/json", memBody("sys-b")}
	writeMixed := req{"ingest", "POST", "/v1/memories", "application/x-ndjson", mixed}
	read := req{"query", "POST", "/v1/sql", "application/json", sqlBody}
	lookup := req{"query", "GET", "/v1/memories/sys-a/none", "", nil}
	systems := req{"query", "GET", "/v1/systems", "", nil}
	search := req{"query", "POST", "/v1/search", "application/json", []byte(`{"vector": [` + strings.Repeat("0.05,", 383) + `0.05], "k": 1}`)}
	mcpWrite := req{"ingest", "POST", "/mcp", "application/json", storeMemory("sys-a")}
	mcpWriteB := req{"ingest", "POST", "/mcp", "application/json", storeMemory("sys-b")}

	cases := []struct {
		name   string
		req    req
		hdr    http.Header
		status int
		code   string // error code, or for MCP "mcp-forbidden"
	}{
		{"missing header: write", write, nil, 401, "unauthorized"},
		{"missing header: SQL", read, nil, 401, "unauthorized"},
		{"missing header: lookup", lookup, nil, 401, "unauthorized"},
		{"missing header: systems", systems, nil, 401, "unauthorized"},
		{"missing header: search", search, nil, 401, "unauthorized"},
		{"missing header: MCP", mcpWrite, nil, 401, "unauthorized"},
		{"expired token: write", write, bearer(hs256(auth.RoleAdmin, map[string]any{"exp": now.Add(-time.Hour).Unix()})), 401, "unauthorized"},
		{"expired token: SQL", read, bearer(hs256(auth.RoleAdmin, map[string]any{"exp": now.Add(-time.Hour).Unix()})), 401, "unauthorized"},
		{"token without exp", write, bearer(hs256(auth.RoleAdmin, map[string]any{"exp": nil})), 401, "unauthorized"},
		{"token not valid yet", read, bearer(hs256(auth.RoleAdmin, map[string]any{"nbf": now.Add(time.Hour).Unix()})), 401, "unauthorized"},
		{"alg none: write", write, bearer(signWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(auth.RoleAdmin, nil))), 401, "unauthorized"},
		{"alg none: SQL", read, bearer(signWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(auth.RoleAdmin, nil))), 401, "unauthorized"},
		{"HS512 with the right secret", write, bearer(signWith(t, jwt.SigningMethodHS512, secret, claims(auth.RoleAdmin, nil))), 401, "unauthorized"},
		{"wrong secret: write", write, bearer(signWith(t, jwt.SigningMethodHS256, []byte("another-secret-0123456789abcdefgh"), claims(auth.RoleAdmin, nil))), 401, "unauthorized"},
		{"wrong secret: SQL", read, bearer(signWith(t, jwt.SigningMethodHS256, []byte("another-secret-0123456789abcdefgh"), claims(auth.RoleAdmin, nil))), 401, "unauthorized"},
		{"viewer token made admin, signature kept", write, bearer(tampered), 401, "unauthorized"},
		{"unknown role", write, bearer(hs256("root", nil)), 401, "unauthorized"},
		{"malformed token", read, bearer("abc.def.ghi"), 401, "unauthorized"},
		{"unknown API key", read, bearer("no-such-key-0123456789abcdef"), 401, "unauthorized"},
		{"unknown X-API-Key", write, http.Header{"X-Api-Key": {"no-such-key-0123456789abcdef"}}, 401, "unauthorized"},
		{"Basic auth", write, http.Header{"Authorization": {"Basic YWRtaW46YWRtaW4="}}, 401, "unauthorized"},
		{"viewer JWT writing", write, bearer(viewer), 403, "forbidden"},
		{"viewer API key writing", write, bearer(keys["viewer"]), 403, "forbidden"},
		{"viewer writing NDJSON", writeMixed, bearer(viewer), 403, "forbidden"},
		{"viewer writing through MCP", mcpWrite, bearer(viewer), 200, "mcp-forbidden"},
		{"JWT limited to sys-a writing sys-b", writeB, bearer(hs256(auth.RoleOperator, map[string]any{"system_ids": []string{"sys-a"}})), 403, "forbidden"},
		{"API key limited to sys-a writing sys-b", writeB, bearer(keys["scoped"]), 403, "forbidden"},
		{"API key limited to sys-a writing sys-a and sys-b in one request", writeMixed, bearer(keys["scoped"]), 403, "forbidden"},
		{"API key limited to sys-a writing sys-b through MCP", mcpWriteB, bearer(keys["scoped"]), 200, "mcp-forbidden"},
		// Controls: the same requests with the right credential pass.
		{"viewer reads", read, bearer(viewer), 200, ""},
		{"viewer API key reads", systems, bearer(keys["viewer"]), 200, ""},
		{"API key limited to sys-a writing sys-a", write, bearer(keys["scoped"]), 200, ""},
	}
	v0, n0 := s.rows(t)
	refused := 0
	for _, c := range cases {
		base := s.ingest.URL
		if c.req.fn == "query" {
			base = s.query.URL
		}
		status, hdr, raw := call(t, c.req.method, base+c.req.path, c.req.ctype, c.req.body, c.hdr)
		if status != c.status {
			t.Errorf("%s: %d, want %d: %s", c.name, status, c.status, truncate(raw))
			continue
		}
		switch {
		case c.code == "mcp-forbidden":
			var rpc struct {
				Result struct {
					IsError bool   `json:"isError"`
					Error   string `json:"error"`
				} `json:"result"`
			}
			if json.Unmarshal(raw, &rpc) != nil || !rpc.Result.IsError || !strings.Contains(rpc.Result.Error, "may not") && !strings.Contains(rpc.Result.Error, "lacks") {
				t.Errorf("%s: want a tool error that refuses, got %s", c.name, truncate(raw))
			}
			refused++
		case c.code != "":
			if got := errorCode(raw); got != c.code {
				t.Errorf("%s: error code %q, want %q: %s", c.name, got, c.code, truncate(raw))
			}
			if status == 401 && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: 401 without a Bearer challenge", c.name)
			}
			refused++
		}
	}
	// Only the one allowed write landed: two records of sys-a.
	if v, n := s.rows(t); v != v0+1 || n != n0+2 {
		t.Errorf("after the refusals the lake is at version %d with %d records, want %d with %d", v, n, v0+1, n0+2)
	}
	fig := &figures{name: "auth refusals"}
	fig.add("refused requests", "%d of %d cases (the rest are controls that pass), each with the right status and code, nothing written", refused, len(cases))
	fig.report(t)
}

// TestRateLimits: per principal, a token bucket answers 429 with
// Retry-After once a token's burst is spent, without touching another
// token's bucket; a rate-limited write writes nothing; the bucket refills;
// with Redis the bucket is shared by the replicas; AKOSHA_RATE_LIMIT picks
// Redis when AKOSHA_REDIS_URL is set and the in-process bucket otherwise.
func TestRateLimits(t *testing.T) {
	secret := []byte("reliability-secret-0123456789abcdef")
	token := func(sub, role string) string {
		tok, err := auth.IssueToken(secret, sub, role, nil, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	check429 := func(name string, status int, hdr http.Header, raw []byte) (retryAfter int) {
		t.Helper()
		if status != http.StatusTooManyRequests {
			t.Errorf("%s: %d, want 429: %s", name, status, truncate(raw))
			return 0
		}
		if got := errorCode(raw); got != "rate_limited" {
			t.Errorf("%s: code %q, want rate_limited", name, got)
		}
		n, err := strconv.Atoi(hdr.Get("Retry-After"))
		if err != nil || n < 1 {
			t.Errorf("%s: Retry-After %q, want whole seconds >= 1", name, hdr.Get("Retry-After"))
		}
		return n
	}

	t.Run("in process", func(t *testing.T) {
		lim, err := auth.NewMemoryLimiter(auth.Rate{PerSecond: 1.0 / 3, Burst: 3})
		if err != nil {
			t.Fatal(err)
		}
		a, err := auth.New(auth.Config{JWTSecret: secret, Limiter: lim})
		if err != nil {
			t.Fatal(err)
		}
		s := startAuthLake(t, a)
		alice, bob := bearer(token("alice", auth.RoleOperator)), bearer(token("bob", auth.RoleOperator))
		v0, n0 := s.rows(t)
		for i := range 3 {
			b := newBatch("", "sys-rl", uint64(100+i), 2, false, time.Now())
			if status, _, raw := call(t, "POST", s.ingest.URL+"/v1/memories", "application/json", b.body, alice); status != 200 {
				t.Fatalf("alice write %d: %d %s", i, status, truncate(raw))
			}
		}
		b := newBatch("", "sys-rl", 200, 2, false, time.Now())
		status, hdr, raw := call(t, "POST", s.ingest.URL+"/v1/memories", "application/json", b.body, alice)
		wait := check429("alice's 4th write", status, hdr, raw)
		if v, n := s.rows(t); v != v0+3 || n != n0+6 {
			t.Errorf("a rate-limited write changed the lake: version %d, %d records; want %d, %d", v, n, v0+3, n0+6)
		}
		status, hdr, raw = call(t, "POST", s.query.URL+"/v1/sql", "application/json", []byte(`{"sql":"SELECT 1"}`), alice)
		check429("alice's read (one bucket per token, not per function)", status, hdr, raw)
		if status, _, raw := call(t, "POST", s.query.URL+"/v1/sql", "application/json", []byte(`{"sql":"SELECT 1"}`), bob); status != 200 {
			t.Errorf("bob, another token: %d, want 200: %s", status, truncate(raw))
		}
		time.Sleep(time.Duration(wait) * time.Second)
		if status, _, raw := call(t, "POST", s.ingest.URL+"/v1/memories", "application/json", b.body, alice); status != 200 {
			t.Errorf("alice after Retry-After: %d, want 200: %s", status, truncate(raw))
		}
	})

	t.Run("redis shared by replicas", func(t *testing.T) {
		opts, err := redis.ParseURL(testenv.RedisURL(t))
		if err != nil {
			t.Fatal(err)
		}
		var replicas []*authLake
		for range 2 {
			client := redis.NewClient(opts)
			t.Cleanup(func() { client.Close() })
			lim, err := auth.NewRedisLimiter(client, auth.Rate{PerSecond: 0.1, Burst: 3})
			if err != nil {
				t.Fatal(err)
			}
			a, err := auth.New(auth.Config{JWTSecret: secret, Limiter: lim})
			if err != nil {
				t.Fatal(err)
			}
			replicas = append(replicas, startAuthLake(t, a))
		}
		// A principal of its own: Redis outlives test runs.
		carol := bearer(token("carol-"+testenv.RandomID(), auth.RoleViewer))
		for i := range 3 {
			if status, _, raw := call(t, "GET", replicas[i%2].query.URL+"/v1/systems", "", nil, carol); status != 200 {
				t.Fatalf("request %d: %d %s", i, status, truncate(raw))
			}
		}
		status, hdr, raw := call(t, "GET", replicas[1].query.URL+"/v1/systems", "", nil, carol)
		check429("4th request, on the replica that saw only one", status, hdr, raw)
	})

	t.Run("from the environment", func(t *testing.T) {
		t.Setenv(auth.EnvJWTSecret, string(secret))
		t.Setenv(auth.EnvAPIKeys, "")
		t.Setenv(auth.EnvRateLimit, "0.1")
		t.Setenv(auth.EnvRateBurst, "2")
		for _, shared := range []bool{false, true} {
			if shared {
				t.Setenv(auth.EnvRedisURL, testenv.RedisURL(t))
			} else {
				t.Setenv(auth.EnvRedisURL, "")
			}
			var servers []*authLake
			for range 2 {
				a, err := auth.NewFromEnv(false)
				if err != nil {
					t.Fatal(err)
				}
				servers = append(servers, startAuthLake(t, a))
			}
			dave := bearer(token("dave-"+testenv.RandomID(), auth.RoleViewer))
			for i := range 2 {
				if status, _, raw := call(t, "GET", servers[0].query.URL+"/v1/systems", "", nil, dave); status != 200 {
					t.Fatalf("redis %v, request %d: %d %s", shared, i, status, truncate(raw))
				}
			}
			status, hdr, raw := call(t, "GET", servers[1].query.URL+"/v1/systems", "", nil, dave)
			if shared {
				check429("AKOSHA_REDIS_URL set: the other replica shares the bucket", status, hdr, raw)
			} else if status != 200 {
				t.Errorf("no Redis: the other replica has its own bucket, want 200, got %d %s", status, truncate(raw))
			}
			status, hdr, raw = call(t, "GET", servers[0].query.URL+"/v1/systems", "", nil, dave)
			check429(fmt.Sprintf("redis %v: 3rd request on the same replica", shared), status, hdr, raw)
		}
	})
}
