package search

import (
	"context"
	"testing"
)

// shared says which files share record keys.
type shared map[string]bool

func (s shared) Shared(key string) bool { return s[key] }

func TestLatestOnly(t *testing.T) {
	alone, resent := &File{Key: "alone"}, &File{Key: "resent"}
	cands := []Candidate{
		{Score: 0.9, File: resent, System: "s", ID: "a", Ingested: 1}, // an older version
		{Score: 0.8, File: alone, System: "s", ID: "b", Ingested: 1},
		{Score: 0.7, File: resent, System: "s", ID: "a", Ingested: 2},
		{Score: 0.6, File: alone, System: "s", ID: "b", Ingested: 1}, // twice: once
		{Score: 0.5, File: alone, System: "s", ID: "c", Ingested: 1}, // past kk
	}
	v := &versions{latest: map[string]int64{"s/a": 2}}
	var st Stats
	got, err := LatestOnly(context.Background(), shared{"resent": true}, v, cands, 4, &st)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "b" || got[1].ID != "a" || got[1].Ingested != 2 {
		t.Errorf("kept %+v, want b, then a's latest version", got)
	}
	if st.Resolved != 2 || st.Dropped != 2 || v.asked != 1 {
		t.Errorf("resolved %d, dropped %d, %d statements; want 2, 2, 1", st.Resolved, st.Dropped, v.asked)
	}
	// Nothing shared, nothing expiring: no statement.
	v.asked = 0
	if _, err := LatestOnly(context.Background(), shared{}, v, cands[1:2], 4, &st); err != nil || v.asked != 0 {
		t.Errorf("%d statements (%v) for a file that shares no key", v.asked, err)
	}
}
