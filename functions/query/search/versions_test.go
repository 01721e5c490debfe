package search

import (
	"context"
	"errors"
	"testing"
)

// versions answers from a fixed map, counting the questions.
type versions struct {
	latest map[string]int64
	asked  int
	err    error
}

func (v *versions) LatestIngested(_ context.Context, systems, ids map[string]bool) (map[string]int64, error) {
	v.asked++
	out := map[string]int64{}
	for k, t := range v.latest {
		for s := range systems {
			for id := range ids {
				if k == s+"/"+id {
					out[k] = t
				}
			}
		}
	}
	return out, v.err
}

func TestAdmitLatest(t *testing.T) {
	var admitted []string
	check := func(sys, id string, ingested int64) VersionCheck {
		return VersionCheck{System: sys, ID: id, Ingested: ingested, Admit: func() { admitted = append(admitted, sys+"/"+id+"@"+string(rune('0'+ingested))) }}
	}
	v := &versions{latest: map[string]int64{"s/a": 2, "s/b": 1}}
	checks := []VersionCheck{
		check("s", "a", 1), // an older version
		check("s", "a", 2),
		check("s", "a", 2), // the same version twice (two sources): once
		check("s", "b", 1),
		check("s", "c", 1), // no latest version: expired, or erased
	}
	if err := AdmitLatest(context.Background(), v, checks); err != nil {
		t.Fatal(err)
	}
	if got := admitted; len(got) != 2 || got[0] != "s/a@2" || got[1] != "s/b@1" {
		t.Errorf("admitted %v, want [s/a@2 s/b@1]", got)
	}
	if v.asked != 1 {
		t.Errorf("%d statements for %d rows, want 1", v.asked, len(checks))
	}
	// 1,001 rows: three statements of at most 500.
	many := make([]VersionCheck, 1001)
	for i := range many {
		many[i] = check("s", "x", 0)
	}
	v.asked = 0
	if err := AdmitLatest(context.Background(), v, many); err != nil || v.asked != 3 {
		t.Errorf("%d statements (%v), want 3", v.asked, err)
	}
	v.asked = 0
	if err := AdmitLatest(context.Background(), v, nil); err != nil || v.asked != 0 {
		t.Errorf("no rows: %d statements (%v)", v.asked, err)
	}
	v.err = errors.New("duckdb down")
	if err := AdmitLatest(context.Background(), v, checks); err == nil {
		t.Error("the error of the statement was lost")
	}
}
