package reliability

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake"
)

// Two lakes sharing one Redis must never answer each other's statements.
//
// Found by TestLoad (its warm-up lake's count answered for the main lake):
// the shared (L2) result cache was keyed by the tables' version numbers,
// the statement, the format and the limit, and every lake counts versions
// 0, 1, 2, ... Two deployments or a staging and a production lake sharing
// Redis, or a lake restored into a fresh prefix, got each other's answers
// for up to AKOSHA_RESULT_CACHE_TTL. The key now names the lake's location
// and each table's metaData.id.
func TestRedisResultCacheDoesNotCrossLakes(t *testing.T) {
	redisURL := testenv.RedisURL(t)
	ctx := context.Background()
	a, _ := auth.New(auth.Config{Disabled: true})
	// The statement is unique to this run, so no other test's entries
	// interfere; both lakes run it at the same versions.
	sql := "SELECT count(*) FROM memories WHERE id <> 'run-" + testenv.RandomID() + "'"
	answer := func(records int) (int64, string) {
		l, err := lake.Open(ctx, testenv.Local(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.AppendMemories(ctx, gen.Memories(uint64(records), records, 1, 1)); err != nil {
			t.Fatal(err)
		}
		q, err := query.Open(l, a, query.Config{CacheDir: t.TempDir(), RedisURL: redisURL, SQLTimeout: time.Minute}, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		defer q.Stop(ctx)
		body, tier, err := q.ServeSQL(ctx, sql, 0)
		if err != nil {
			t.Fatal(err)
		}
		var ans sqlAnswer
		if err := json.Unmarshal(body, &ans); err != nil {
			t.Fatal(err)
		}
		return num(ans.Rows[0][0]), tier
	}
	if n, tier := answer(3); n != 3 {
		t.Fatalf("lake A: %d records (from %s), want 3", n, tier)
	}
	if n, tier := answer(5); n != 5 {
		t.Fatalf("lake B (5 records, its own memories@1) answered %d from the result cache tier %q: "+
			"lake A's answer at the same version came back", n, tier)
	}
}
