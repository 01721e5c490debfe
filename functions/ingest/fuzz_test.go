package ingest

import (
	"net/http"
	"net/http/httptest"
	"strings"
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

func FuzzDecodeMCP(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"store_memory","arguments":{"memory_id":"m","text":"t","metadata":{"source":"s"}}}}`))
	f.Add([]byte(`{"jsonrpc":"2.0","id":"x","method":"initialize","params":{}}`))
	f.Add([]byte(`[{"jsonrpc":"2.0"}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, rerr := decodeRPC(body)
		if rerr == nil && (req.JSONRPC != "2.0" || req.Method == "") {
			t.Fatalf("accepted an invalid request: %q", body)
		}
		if rerr != nil {
			return
		}
		// The tool argument mappers must not panic either.
		for _, m := range []sbMemory{{MemoryID: string(body), Text: "t", Metadata: map[string]any{"source": string(body), "type": 1.0, "created_at": nil}}} {
			raw := m.toRecord("")
			recs, _, err := decodeRecords[schemas.Memory](schemas.Batch{Records: [][]byte{raw}}, memoryKey, time.Now(), 10)
			if err == nil && len(recs) == 1 && strings.ContainsAny(recs[0].ID, "/\x00") {
				t.Fatalf("accepted id %q", recs[0].ID)
			}
		}
	})
}
