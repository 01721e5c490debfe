package query_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/tenants"
)

// BenchmarkTenantConfinement is the cost of confinement in BENCHMARKS.md.
//
// AKOSHA_BENCH_TENANT_SHAPE=all (the default) is this:
// the six queries of BenchmarkQueryLake and a vector search (exact scans,
// k=10), warm, on a lake of AKOSHA_BENCH_RECORDS memories (default 100,000)
// over 100 systems and 30 days on the S3 server, each run unconfined (a
// fleet-wide admin) and confined to a tenant that owns all 100 systems, so
// both read the same rows and the difference is the confinement itself
// (file pruning by the tenant's list, the masked and filtered views, the
// search's system test). The two are interleaved, run for run, so that the
// shared machine's load falls on both alike; medians of
// AKOSHA_BENCH_ROUNDS (default 15). Runs only with AKOSHA_BENCH_TENANTS=1.
//
// AKOSHA_BENCH_TENANT_SHAPE=half gives team-a the first 50 systems and
// team-b the other 50, so every file holds both tenants' rows and each is
// tested: team-a's confined statements are timed against the same
// statements run fleet-wide with team-a's systems written into them by
// hand (system_id IN (...), the peer a user would write), which must
// answer the same.
func BenchmarkTenantConfinement(b *testing.B) {
	shape := os.Getenv("AKOSHA_BENCH_TENANT_SHAPE")
	switch shape {
	case "", "all":
		shape = "all"
	case "half":
	default:
		b.Fatalf("AKOSHA_BENCH_TENANT_SHAPE=%q: want all or half", shape)
	}
	benchTenantConfinement(b, shape)
}

func benchTenantConfinement(b *testing.B, shape string) {
	if os.Getenv("AKOSHA_BENCH_TENANTS") == "" {
		b.Skip("set AKOSHA_BENCH_TENANTS=1 to time confined against unconfined reads")
	}
	n, rounds := 100_000, 15
	if v, err := strconv.Atoi(os.Getenv("AKOSHA_BENCH_RECORDS")); err == nil && v > 0 {
		n = v
	}
	if v, err := strconv.Atoi(os.Getenv("AKOSHA_BENCH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	ctx := context.Background()
	store := testenv.S3(b)
	t0 := time.Now()
	buildBenchLake(b, store, n)
	reg := tenants.New(store)
	var systems []string
	for i := range 100 {
		systems = append(systems, fmt.Sprintf("sys-%03d", i))
	}
	mine := systems
	if shape == "half" {
		mine = systems[:50]
		if err := reg.Claim(ctx, systems[50:], "team-b", "bench"); err != nil {
			b.Fatal(err)
		}
	}
	if err := reg.Claim(ctx, mine, "team-a", "bench"); err != nil {
		b.Fatal(err)
	}
	b.Logf("built a lake of %d memories in %v", n, time.Since(t0).Round(time.Second))

	l, err := lake.Open(ctx, store)
	if err != nil {
		b.Fatal(err)
	}
	a, _ := auth.New(auth.Config{Disabled: true})
	f, err := query.Open(l, a, query.Config{CacheDir: b.TempDir(), SQLTimeout: 5 * time.Minute, NoResultCache: true}, prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Stop(context.Background()) })
	m := l.Tenants().Current()
	scopes := []struct {
		name string
		ctx  context.Context
	}{
		{"unconfined", query.WithScope(ctx, tenants.Everything())},
		{"confined", query.WithScope(ctx, m.ScopeOf("team-a", false))},
	}
	// The unconfined form of each statement: as it is when team-a owns
	// every system, team-a's systems written in by hand when it owns half.
	byHand := func(sql string) string { return sql }
	in := "'" + strings.Join(mine, "', '") + "'"
	if shape == "half" {
		handWritten := map[string]string{}
		for _, q := range benchQueries {
			handWritten[q.sql] = tenantFiltered(q.name, in)
		}
		byHand = func(sql string) string { return handWritten[sql] }
	}
	if m.ScopeOf("team-a", false).All() {
		b.Fatal("team-a's scope is unconfined: the benchmark would compare a thing with itself")
	}

	type job struct {
		name string
		run  func(context.Context) (string, error)
	}
	var jobs []job
	for _, q := range benchQueries {
		jobs = append(jobs, job{q.name, func(c context.Context) (string, error) {
			sql := q.sql
			if c == scopes[0].ctx {
				sql = byHand(sql)
			}
			body, _, err := f.ServeSQL(c, sql, 100)
			return string(body[:min(len(body), 200)]), err
		}})
	}
	vec := make([]float64, 384)
	for i := range vec {
		vec[i] = float64(i%13) - 6
	}
	k := 10
	jobs = append(jobs, job{"vector search k=10", func(c context.Context) (string, error) {
		req := query.SearchRequest{Vector: vec, K: &k}
		if c == scopes[0].ctx && shape == "half" {
			req.Filter = &query.SearchFilter{SystemID: query.StringList(mine)}
		}
		resp, err := f.Search(c, req)
		if err != nil {
			return "", err
		}
		var keys []string
		for _, r := range resp.Results {
			keys = append(keys, r.SystemID+"/"+r.ID)
		}
		return strings.Join(keys, ","), nil
	}})

	b.Logf("shape %s: team-a owns %d of 100 systems", shape, len(mine))
	peer := "unconfined"
	if shape == "half" {
		peer = "filtered by hand"
	}
	b.Logf("%-26s %16s %12s %8s", "query", peer, "confined", "cost")
	for _, j := range jobs {
		// Warm: the first run of each fetches and indexes.
		var answers [2]string
		for s, sc := range scopes {
			out, err := j.run(sc.ctx)
			if err != nil {
				b.Fatalf("%s %s: %v", j.name, sc.name, err)
			}
			answers[s] = out
		}
		if (j.name != "vector search k=10" || shape == "half") && stripElapsed(answers[0]) != stripElapsed(answers[1]) {
			b.Fatalf("%s: confined and unconfined answers differ:\n%s\n%s", j.name, answers[0], answers[1])
		}
		times := [2][]time.Duration{}
		for range rounds {
			for s, sc := range scopes {
				t := time.Now()
				if _, err := j.run(sc.ctx); err != nil {
					b.Fatal(err)
				}
				times[s] = append(times[s], time.Since(t))
			}
		}
		u, c := median(times[0]), median(times[1])
		b.Logf("%-26s %16s %12s %+7.1f%%", j.name, ms(u), ms(c), 100*(float64(c)/float64(u)-1))
	}
}

// stripElapsed cuts a JSON answer before its elapsed_ms, which differs run
// to run.
func stripElapsed(s string) string {
	for i := 0; i+10 < len(s); i++ {
		if s[i:i+10] == "elapsed_ms" {
			return s[:i]
		}
	}
	return s
}

// tenantFiltered is benchQueries' statement name with team-a's systems
// (in, quoted and comma-separated) written into every scan of memories
// and entities by hand.
func tenantFiltered(name, in string) string {
	switch name {
	case "count by system":
		return `SELECT system_id, count(*) AS n FROM memories WHERE system_id IN (` + in + `) GROUP BY system_id ORDER BY system_id`
	case "one system, one day":
		return `SELECT count(*), avg(importance), max(created_at) FROM memories WHERE system_id = 'sys-042' AND day = DATE '2026-11-15' AND system_id IN (` + in + `)`
	case "top projects by week":
		return `SELECT date_trunc('week', created_at) AS week, project, count(*) AS n FROM memories WHERE system_id IN (` + in + `) GROUP BY ALL ORDER BY n DESC, week, project LIMIT 20`
	case "LIKE text search":
		return `SELECT count(*) FROM memories WHERE content LIKE '%deploy timeout cache%' AND system_id IN (` + in + `)`
	case "memories join entities":
		return `SELECT e.entity_type, count(*) AS n FROM memories m JOIN entities e ON m.system_id = e.system_id AND m.project = e.name WHERE m.system_id IN (` + in + `) AND e.system_id IN (` + in + `) GROUP BY ALL ORDER BY ALL`
	case "window function":
		return `SELECT count(*) FROM (SELECT system_id, id, row_number() OVER (PARTITION BY system_id ORDER BY created_at DESC) AS rn FROM memories WHERE system_id IN (` + in + `)) WHERE rn <= 3`
	}
	panic("tenantFiltered: no hand-written form of " + name)
}
