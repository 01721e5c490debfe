package jobmetrics

import (
	"errors"
	"testing"
	"time"

	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake/storage"
)

// A run's record says what it did and how it ended; a failed run keeps the
// last success of the run before it, as the Pushgateway's group does.
func TestRecordsKeepTheLastSuccess(t *testing.T) {
	ctx := testenv.Context(t)
	store, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ok := Start("compact")
	ok.Items("compacted", 3)
	ok.Bytes(100, 40)
	end := time.Now()
	if err := WriteRecord(ctx, store, ok.Record(0, nil, end)); err != nil {
		t.Fatal(err)
	}
	bad := Start("compact")
	if err := WriteRecord(ctx, store, bad.Record(1, errors.New("fetch: connection refused\nmore detail"), end.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	if err := WriteRecord(ctx, store, Start("vacuum").Record(4, errors.New("lease held"), end)); err != nil {
		t.Fatal(err)
	}
	recs, err := ReadRecords(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Job != "compact" || recs[1].Job != "vacuum" {
		t.Fatalf("records %+v, want compact and vacuum", recs)
	}
	c := recs[0]
	if c.Result != "failed" || c.ExitCode != 1 || c.Error != "fetch: connection refused" {
		t.Errorf("compact: %+v, want the failed run with the first line of its error", c)
	}
	if c.LastSuccessAt == nil || !c.LastSuccessAt.Equal(end.UTC()) {
		t.Errorf("compact's last success %v, want the first run's end %v", c.LastSuccessAt, end.UTC())
	}
	if v := recs[1]; v.Result != "leased" || v.LastSuccessAt != nil {
		t.Errorf("vacuum: %+v, want leased and never successful", v)
	}
	if first := ok.Record(0, nil, end); first.Items["compacted"] != 3 || first.BytesIn != 100 || first.BytesOut != 40 {
		t.Errorf("the first run's record %+v lost its items or bytes", first)
	}
}
