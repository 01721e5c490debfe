package cache_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake/cache"
)

// The exported metrics track Stats.
func TestMetrics(t *testing.T) {
	s := testenv.Local(t)
	a, b := key("m", "a"), key("m", "b")
	putObj(t, s, a, 60)
	putObj(t, s, b, 50)
	reg := prometheus.NewRegistry()
	c, err := cache.Open(t.TempDir(), 100, s, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	getReleased(t, c, a, 60)
	getReleased(t, c, a, 60)
	getReleased(t, c, b, 50) // evicts a

	st := c.Stats()
	got := gather(t, reg)
	want := map[string]float64{
		"akosha_cache_hits_total":          float64(st.Hits),
		"akosha_cache_misses_total":        float64(st.Misses),
		"akosha_cache_bytes":               float64(st.Bytes),
		"akosha_cache_budget_bytes":        100,
		"akosha_cache_evictions_total":     float64(st.Evictions),
		"akosha_cache_fetched_bytes_total": float64(st.FetchedBytes),
		"akosha_cache_fetch_seconds":       float64(st.Downloads), // sample count
	}
	if st.Hits != 1 || st.Misses != 2 || st.Bytes != 50 || st.Evictions != 1 || st.FetchedBytes != 110 {
		t.Errorf("stats %+v", st)
	}
	for name, v := range want {
		if g, ok := got[name]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", name, g, ok, v)
		}
	}

	// One registry holds one cache's metrics; Close frees them.
	if _, err := cache.Open(t.TempDir(), 100, s, reg); err == nil {
		t.Errorf("a second cache registered the same metrics")
	}
	c.Close()
	c2, err := cache.Open(t.TempDir(), 100, s, reg)
	if err != nil {
		t.Fatalf("reopen on the same registry after Close: %v", err)
	}
	c2.Close()
}

// gather returns each metric's value (a histogram's sample count).
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		switch {
		case m.Counter != nil:
			out[mf.GetName()] = m.Counter.GetValue()
		case m.Gauge != nil:
			out[mf.GetName()] = m.Gauge.GetValue()
		case m.Histogram != nil:
			out[mf.GetName()] = float64(m.Histogram.GetSampleCount())
		}
	}
	return out
}
