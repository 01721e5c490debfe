package ingest_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/akosha/akosha/functions/ingest"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/schemas"
)

// A client that trickles its body holds no commit open: records join a
// commit only once their whole request is read, so others commit meanwhile.
func TestSlowClientDoesNotHoldCommits(t *testing.T) {
	s := start(t)
	pr, pw := io.Pipe()
	slowDone := make(chan int)
	go func() {
		req, _ := http.NewRequest("POST", s.URL+"/v1/memories", pr)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			slowDone <- 0
			return
		}
		resp.Body.Close()
		slowDone <- resp.StatusCode
	}()
	body := string(batch("sys-slow", memories(2, 77)))
	pw.Write([]byte(body[:20])) // then stall
	t0 := time.Now()
	a := post(t, s.URL+"/v1/memories", batch("sys-fast", memories(3, 78)), nil)
	if a.Status != 200 {
		t.Fatalf("fast client: %d %s", a.Status, a.Raw)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("fast client waited %v behind a stalled one", d)
	}
	pw.Write([]byte(body[20:]))
	pw.Close()
	if st := <-slowDone; st != 200 {
		t.Errorf("slow client finished with %d", st)
	}
	if _, n := rows(t, s.lake, schemas.TableMemories); n != 5 {
		t.Errorf("%d records, want 5", n)
	}
}

// The function's own series are exported: records by table and result,
// bytes, group sizes, commit durations and conflicts.
func TestMetricsExported(t *testing.T) {
	reg := prometheus.NewRegistry()
	l, err := lake.Open(ctxT(t), testenv.S3(t))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := auth.New(auth.Config{Disabled: true})
	f, err := ingest.Open(l, a, ingest.Config{}, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop(ctxT(t))
	recs := memories(3, 79)
	recs[0].Content = ""
	req, _ := http.NewRequest("POST", "/v1/memories", strings.NewReader(string(batch("sys-m", recs))))
	req.Header.Set("Content-Type", "application/json")
	rw := &discardWriter{h: http.Header{}}
	f.Handle(rw, req)
	if rw.status != 200 {
		t.Fatalf("status %d", rw.status)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, lp := range m.GetLabel() {
				key += "," + lp.GetName() + "=" + lp.GetValue()
			}
			switch {
			case m.Counter != nil:
				got[key] = m.Counter.GetValue()
			case m.Histogram != nil:
				got[key] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	for key, want := range map[string]float64{
		"akosha_ingest_records_total,result=stored,table=memories":  2,
		"akosha_ingest_records_total,result=invalid,table=memories": 1,
		"akosha_ingest_group_records,table=memories":                1,
		"akosha_ingest_commit_duration_seconds,table=memories":      1,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	if got["akosha_ingest_bytes_total,table=memories"] <= 0 {
		t.Error("no bytes counted")
	}
}

type discardWriter struct {
	h      http.Header
	status int
}

func (d *discardWriter) Header() http.Header { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) {
	if d.status == 0 {
		d.status = 200
	}
	return len(b), nil
}
func (d *discardWriter) WriteHeader(s int) { d.status = s }
