package lake

import (
	"testing"
	"time"

	"github.com/akosha/akosha/lake/delta"
)

func TestExpiryOf(t *testing.T) {
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v }
	for _, tt := range []struct {
		name, stats string
		want        Expiry
	}{
		{"legacy: no column", `{"numRecords":3,"nullCount":{"id":0}}`, Expiry{}},
		{"column, no expiring row", `{"numRecords":3,"nullCount":{"expires_at":3}}`, Expiry{Column: true}},
		{"two expiring rows", `{"numRecords":3,"minValues":{"expires_at":"2026-12-07T10:00:00.000Z"},"maxValues":{"expires_at":"2026-12-07T11:00:00.000Z"},"nullCount":{"expires_at":1}}`,
			Expiry{Column: true, Rows: 2, Min: at("2026-12-07T10:00:00Z"), Max: at("2026-12-07T11:00:00.000999Z")}},
		{"no statistics", ``, Expiry{Column: true, Rows: 1, Max: time.Unix(1<<40, 0)}},
	} {
		got := ExpiryOf(delta.Add{Path: "x/" + tt.name, Stats: tt.stats})
		if got.Column != tt.want.Column || got.Rows != tt.want.Rows || !got.Min.Equal(tt.want.Min) || !got.Max.Equal(tt.want.Max) {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
	e := ExpiryOf(delta.Add{Path: "x/two expiring rows"}) // memoized by path
	if !e.MayHaveExpired(at("2026-12-07T10:00:00Z")) || e.MayHaveExpired(at("2026-12-07T09:59:59Z")) ||
		!e.AllExpired(at("2026-12-07T11:00:00.001Z")) || e.AllExpired(at("2026-12-07T11:00:00.0005Z")) {
		t.Errorf("bounds of %+v", e)
	}
}
