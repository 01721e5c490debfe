package ingest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/akosha/akosha/schemas"
)

// The decoders behind every ingest endpoint must never panic or hang, and
// whatever they accept must be a valid record.

func FuzzDecodeJSONBatch(f *testing.F) {
	f.Add([]byte(`{"system_id":"s","records":[{"id":"a","content":"c","created_at":"2026-11-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"records":[{"system_id":"s","id":"a","content":"c","created_at":"2026-11-01T00:00:00","embedding_b64":"AAAA"}]}`))
	f.Add([]byte(`{"system_id":"s","records":[null,1,"x",[],{}]}`))
	f.Add([]byte(`{"records":[{"id":"a","embedding":[1e400,-0,1.5e-45]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/v1/memories", nil)
		req.Header.Set("Content-Type", "application/json")
		fuzzBody(t, req, body)
	})
}

func FuzzDecodeNDJSON(f *testing.F) {
	f.Add([]byte("{\"system_id\":\"s\",\"id\":\"a\",\"content\":\"c\",\"created_at\":\"2026-11-01T00:00:00Z\"}\n\n{}\n"))
	f.Add([]byte("\n\n\r\n"))
	f.Add([]byte("{\"id\":\"\\ud800\"}\n[1,2]\nnull"))
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/v1/memories?system_id=s", nil)
		req.Header.Set("Content-Type", "application/x-ndjson")
		fuzzBody(t, req, body)
	})
}

func fuzzBody(t *testing.T, req *http.Request, body []byte) {
	b, err := splitBody(req, body)
	if err != nil {
		return
	}
	now := time.Now()
	recs, errs, err := decodeRecords[schemas.Memory](b, memoryKey, now, 1000)
	if err != nil {
		return
	}
	if len(recs)+len(errs) != len(b.Records) {
		t.Fatalf("%d records in, %d valid + %d invalid out", len(b.Records), len(recs), len(errs))
	}
	for i := range recs {
		if err := recs[i].Validate(now); err != nil {
			t.Fatalf("accepted an invalid record: %v", err)
		}
	}
	for _, e := range errs {
		if e.Index < 0 || e.Index >= len(b.Records) || e.Error == "" {
			t.Fatalf("bad error report %+v", e)
		}
	}
}

// FuzzMCPToolMapping: Session-Buddy's argument mapping must not panic on
// any input, and what it accepts must be a valid record.
func FuzzMCPToolMapping(f *testing.F) {
	f.Add("m-1", "s1", "conversation", "2026-11-20T10:00:00")
	f.Add("../x", "", "diary", "yesterday")
	f.Fuzz(func(t *testing.T, id, source, typ, created string) {
		m := sbMemory{MemoryID: id, Text: "t", Metadata: map[string]any{"source": source, "type": typ, "created_at": created}}
		now := time.Now()
		recs, _, err := decodeRecords[schemas.Memory](schemas.Batch{Records: [][]byte{m.toRecord("")}}, memoryKey, now, 10)
		if err != nil {
			return
		}
		for i := range recs {
			if err := recs[i].Validate(now); err != nil {
				t.Fatalf("accepted an invalid record: %v", err)
			}
		}
	})
}

// FuzzFastSplit: decodeBody, which cuts the usual batch shape without the
// full first pass, answers every body exactly as the reference way does
// (schemas.SplitBatch, then decodeRecords).
func FuzzFastSplit(f *testing.F) {
	f.Add([]byte(`{"system_id":"s","records":[{"id":"a","content":"c","created_at":"2026-11-01T00:00:00Z"}]}`))
	f.Add([]byte(` {"records" : [ {"system_id":"s","id":"a","content":"c","created_at":"2026-11-01T00:00:00","embedding_b64":"AAAA"} , {"id":"b"} ] , "system_id" : null } `))
	f.Add([]byte(`{"records":[{"id":5,"content":]}]}`))
	f.Add([]byte(`{"records":[{"id":"a","embedding":[1e400,-0,1.5e-45,01]}]}`))
	f.Add([]byte(`{"records":[{"id":"a}","metadata":{"k":["\"}",{"x":[]}]}}],"records":[]}`))
	f.Add([]byte(`{"system_id":"s\u0041","records":[{"id":"a"}]}`))
	f.Add([]byte(`{"records":[{"id":"a"},]}`))
	f.Add([]byte(`{"records":[{"id":"a"}]}x`))
	f.Add([]byte(`{"records":[]}`))
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/v1/memories", nil)
		req.Header.Set("Content-Type", "application/json")
		total, recs, errs, err := decodeBody[schemas.Memory](req, body, memoryKey, now, 5)
		var wantTotal int
		var wantRecs []schemas.Memory
		var wantErrs []recordError
		b, wantErr := splitBody(req, body)
		if wantErr == nil {
			wantTotal = len(b.Records)
			wantRecs, wantErrs, wantErr = decodeRecords[schemas.Memory](b, memoryKey, now, 5)
		}
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("error %v, want %v", err, wantErr)
		}
		if err != nil {
			return
		}
		if total != wantTotal || !reflect.DeepEqual(recs, wantRecs) || !reflect.DeepEqual(errs, wantErrs) {
			t.Fatalf("total %d, records %+v, errors %+v; want %d, %+v, %+v", total, recs, errs, wantTotal, wantRecs, wantErrs)
		}
	})
}
