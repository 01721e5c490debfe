package tenants_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/lake/tenants"
)

func TestClaimAndMove(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		ctx := testenv.Context(t)
		r := tenants.New(s)
		if m, err := r.Refresh(ctx); err != nil || m.Version != -1 || m.TenantOf("x") != tenants.DefaultTenant {
			t.Fatalf("a lake without the table: %+v, %v", m, err)
		}
		if err := r.Claim(ctx, []string{"a1", "a2", "a1"}, "team-a", "key-a"); err != nil {
			t.Fatal(err)
		}
		if err := r.Claim(ctx, []string{"b1"}, "team-b", "key-b"); err != nil {
			t.Fatal(err)
		}
		// Claiming again is free; another tenant is refused, whole.
		if err := r.Claim(ctx, []string{"a1"}, "team-a", "key-a"); err != nil {
			t.Fatal(err)
		}
		var fe *tenants.ForeignError
		if err := r.Claim(ctx, []string{"new", "a2"}, "team-b", "key-b"); !errors.As(err, &fe) || fe.System != "a2" {
			t.Fatalf("claim of a2 by team-b: %v, want a ForeignError", err)
		}
		// A second process sees the same mapping, from the log alone.
		other := tenants.New(s)
		m, err := other.Refresh(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Systems("team-a"); !slices.Equal(got, []string{"a1", "a2"}) {
			t.Errorf("team-a systems %v", got)
		}
		if m.Claimed("new") {
			t.Error("a refused claim claimed a system anyway")
		}
		// Scopes: a tenant sees its own; the default tenant sees all but
		// the other tenants' (and unclaimed systems); fleet-wide sees all.
		a, d := m.ScopeOf("team-a", false), m.ScopeOf("", false)
		for _, c := range []struct {
			sc   *tenants.Scope
			sys  string
			want bool
		}{{a, "a1", true}, {a, "b1", false}, {a, "legacy", false}, {d, "legacy", true}, {d, "a1", false}, {m.ScopeOf("x", true), "b1", true}} {
			if c.sc.Allows(c.sys) != c.want {
				t.Errorf("scope %q allows %s = %v", c.sc.Key(), c.sys, !c.want)
			}
		}
		if a.Key() == d.Key() || a.Key() == "" || m.ScopeOf("team-a", false).Key() != a.Key() {
			t.Errorf("scope keys: %q %q", a.Key(), d.Key())
		}

		from, v, err := other.Move(ctx, "a2", "team-b", "admin-1")
		if err != nil || from != "team-a" {
			t.Fatalf("move: %q, %v", from, err)
		}
		m, err = r.Refresh(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.TenantOf("a2") != "team-b" || m.Version != v {
			t.Errorf("after the move a2 is %s at %d (want team-b at %d)", m.TenantOf("a2"), m.Version, v)
		}
		// The move is in the log, with who asked.
		snap, err := delta.NewTable(s, tenants.Table).Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if snap.NumFiles() != 3 {
			t.Errorf("%d live mapping files, want 3 (one per system)", snap.NumFiles())
		}
	})
}

// TestConcurrentClaims: processes racing to claim one system for different
// tenants agree on one owner, and every loser is refused.
func TestConcurrentClaims(t *testing.T) {
	s := testenv.S3(t)
	ctx := testenv.Context(t)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = tenants.New(s).Claim(ctx, []string{"contested"}, fmt.Sprintf("t%d", i), "k")
		}()
	}
	wg.Wait()
	m, err := tenants.New(s).Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	winner := m.TenantOf("contested")
	for i, err := range errs {
		var fe *tenants.ForeignError
		switch {
		case fmt.Sprintf("t%d", i) == winner && err != nil:
			t.Errorf("the winner %s got %v", winner, err)
		case fmt.Sprintf("t%d", i) != winner && !errors.As(err, &fe):
			t.Errorf("loser t%d got %v, want a ForeignError", i, err)
		}
	}
}
