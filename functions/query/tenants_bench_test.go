package query_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/tenants"
)

// BenchmarkTenantConfinement is the cost of confinement in BENCHMARKS.md:
// the six queries of BenchmarkQueryLake and a vector search (exact scans,
// k=10), warm, on a lake of AKOSHA_BENCH_RECORDS memories (default 100,000)
// over 100 systems and 30 days on the S3 server, each run unconfined (a
// fleet-wide admin) and confined to a tenant that owns all 100 systems, so
// both read the same rows and the difference is the confinement itself
// (file pruning by the tenant's list, the masked and filtered views, the
// search's system test). The two are interleaved, run for run, so that the
// shared machine's load falls on both alike; medians of
// AKOSHA_BENCH_ROUNDS (default 15). Runs only with AKOSHA_BENCH_TENANTS=1.
func BenchmarkTenantConfinement(b *testing.B) {
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
	if err := reg.Claim(ctx, systems, "team-a", "bench"); err != nil {
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
			body, _, err := f.ServeSQL(c, q.sql, 100)
			return string(body[:min(len(body), 200)]), err
		}})
	}
	vec := make([]float64, 384)
	for i := range vec {
		vec[i] = float64(i%13) - 6
	}
	k := 10
	jobs = append(jobs, job{"vector search k=10", func(c context.Context) (string, error) {
		resp, err := f.Search(c, query.SearchRequest{Vector: vec, K: &k})
		if err != nil {
			return "", err
		}
		return fmt.Sprint(len(resp.Results)), nil
	}})

	b.Logf("%-26s %12s %12s %8s", "query", "unconfined", "confined", "cost")
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
		if j.name != "vector search k=10" && stripElapsed(answers[0]) != stripElapsed(answers[1]) {
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
		b.Logf("%-26s %12s %12s %+7.1f%%", j.name, ms(u), ms(c), 100*(float64(c)/float64(u)-1))
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
