package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"net/http"
	"strings"
	"time"

	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/schemas"
)

// Response is the answer to an ingest request (api/openapi.yaml, IngestResponse).
type Response struct {
	Status  string        `json:"status"` // completed, partial or failed
	Total   int           `json:"total"`
	Stored  int           `json:"stored"`
	Failed  int           `json:"failed"`
	Errors  []recordError `json:"errors"`
	Version int64         `json:"version"`
	// Duplicate is true when an Idempotency-Key repeated an earlier request:
	// nothing new was written and Version is the first commit's.
	Duplicate bool `json:"duplicate,omitempty"`
}

func newResponse(total, stored int, errs []recordError) Response {
	r := Response{Total: total, Stored: stored, Failed: len(errs), Errors: errs}
	if r.Errors == nil {
		r.Errors = []recordError{}
	}
	switch {
	case stored == 0:
		r.Status = "failed"
	case len(errs) > 0:
		r.Status = "partial"
	default:
		r.Status = "completed"
	}
	return r
}

// idempotencyTxn turns an Idempotency-Key into the txn action committed with
// the request's data. The txn version is a hash of the body, so that a key
// reused with a different body is recognised (409) rather than answered with
// another request's result. It keeps 53 bits: other engines read the log's
// numbers as JSON, where an integer above 2^53 loses its last digits.
func idempotencyTxn(r *http.Request, body []byte) (*delta.Txn, error) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return nil, nil
	}
	if len(key) > 200 || strings.IndexFunc(key, func(c rune) bool { return c < 0x21 || c > 0x7e }) >= 0 {
		return nil, httpx.Errorf(http.StatusBadRequest, "invalid_idempotency_key",
			"Idempotency-Key must be 1-200 printable ASCII characters without spaces")
	}
	sum := sha256.Sum256(body)
	return &delta.Txn{
		AppID:       "akosha-ingest:" + key,
		Version:     int64(binary.BigEndian.Uint64(sum[:8]) >> (64 - txnVersionBits)),
		LastUpdated: time.Now().UnixMilli(),
	}, nil
}

// txnVersionBits is how much of the body's hash a txn version keeps.
const txnVersionBits = 53

// sameBody reports whether a recorded txn version and a request's are the
// same body's hash. Versions recorded before they were cut to 53 bits kept
// 63; a retry across that upgrade is still the same request.
func sameBody(recorded, now int64) bool {
	return recorded == now || recorded>>(63-txnVersionBits) == now
}

// readPost reads the body of a POST, answering any other method with 405
// and a body it cannot read with its error; ok is false when it answered.
func readPost(w http.ResponseWriter, r *http.Request, limit int64) (buf *bytes.Buffer, ok bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpx.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		return nil, false
	}
	buf, err := readBody(w, r, limit)
	if err != nil {
		httpx.WriteErr(w, err)
		return nil, false
	}
	return buf, true
}

// ingestHandler serves POST /v1/{memories,entities,relations} for one table.
func ingestHandler[R any, P record[R]](f *Function, table string, key keyOf[R], c *committer[R]) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf, ok := readPost(w, r, f.cfg.MaxBodyBytes)
		if !ok {
			return
		}
		defer releaseBody(buf) // records copy what they keep of it
		body := buf.Bytes()
		f.metrics.bytes.WithLabelValues(table).Add(float64(len(body)))
		txn, err := idempotencyTxn(r, body)
		if err != nil {
			httpx.WriteErr(w, err)
			return
		}
		total, recs, errs, err := decodeBody[R, P](r, body, key, time.Now(), f.cfg.MaxRecords)
		if err != nil {
			httpx.WriteErr(w, err)
			return
		}
		if err := checkSystems(r, f, recs, key); err != nil {
			httpx.WriteErr(w, err)
			return
		}
		resp, status, err := store(r, f, table, c, recs, errs, total, txn)
		if err != nil {
			httpx.WriteErr(w, err)
			return
		}
		httpx.WriteJSON(w, status, resp)
	})
}

// store commits the valid records and builds the response. A batch with no
// valid record writes nothing and answers 422 with the same body shape.
func store[R any](r *http.Request, f *Function, table string, c *committer[R], recs []R, errs []recordError, total int, txn *delta.Txn) (Response, int, error) {
	f.metrics.records.WithLabelValues(table, "invalid").Add(float64(len(errs)))
	resp := newResponse(total, len(recs), errs)
	if len(recs) == 0 {
		return resp, http.StatusUnprocessableEntity, nil
	}
	if txn != nil {
		if prev, ok := f.priorTxn(table, txn.AppID); ok {
			return duplicate(f, table, resp, prev, txn)
		}
	}
	if mems, ok := any(recs).([]schemas.Memory); ok {
		// ttl and the per-kind default become expires_at, counted from
		// the time the ingest accepted the record.
		now := time.Now()
		for i := range mems {
			mems[i].ResolveExpiry(now, f.cfg.ExpiryByKind)
		}
	}
	res := c.Submit(r.Context(), recs, txn)
	if res.Err != nil {
		f.metrics.records.WithLabelValues(table, "error").Add(float64(len(recs)))
		return Response{}, 0, httpx.Errorf(http.StatusServiceUnavailable, "commit_failed",
			"the records were not stored (retry with the same Idempotency-Key): %v", res.Err)
	}
	if res.Duplicate {
		if prev, ok := f.refreshedTxn(r.Context(), table, txn.AppID); ok {
			return duplicate(f, table, resp, prev, txn)
		}
		resp.Duplicate, resp.Version = true, res.Version
		return resp, http.StatusOK, nil
	}
	f.metrics.records.WithLabelValues(table, "stored").Add(float64(len(recs)))
	resp.Version = res.Version
	return resp, http.StatusOK, nil
}

// duplicate answers a repeated Idempotency-Key: the same response as the
// first time (validation is deterministic), or 409 when the body differs.
func duplicate(f *Function, table string, resp Response, prev, txn *delta.Txn) (Response, int, error) {
	if !sameBody(prev.Version, txn.Version) {
		return Response{}, 0, httpx.Errorf(http.StatusConflict, "idempotency_key_reused",
			"this Idempotency-Key was used for a different request body")
	}
	f.metrics.records.WithLabelValues(table, "duplicate").Add(float64(resp.Stored))
	resp.Duplicate = true
	resp.Version = prev.CommitVersion
	if resp.Version < 0 {
		// Recorded before the last checkpoint: the exact version is gone,
		// but the records are visible at every version since.
		resp.Version = f.tableVersion(table)
	}
	return resp, http.StatusOK, nil
}

// checkSystems refuses the whole request when a token limited to some
// systems tries to write another, or when a system belongs to another
// tenant: nothing is written. Systems new to the lake become the token's
// tenant's (f.claim), before any record of theirs is committed.
func checkSystems[R any](r *http.Request, f *Function, recs []R, key keyOf[R]) error {
	p, ok := auth.FromContext(r.Context())
	var systems []string
	seen := map[string]bool{}
	for i := range recs {
		sys, _ := key(&recs[i])
		if ok && !p.AllowsSystem(*sys) {
			return httpx.Errorf(http.StatusForbidden, "forbidden", "this token may not write system %q", *sys)
		}
		if !seen[*sys] {
			seen[*sys] = true
			systems = append(systems, *sys)
		}
	}
	return f.claim(r.Context(), systems)
}

var _ = schemas.TableMemories
