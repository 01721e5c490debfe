package ingest

import (
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/schemas"
)

// recordError reports one invalid record of a batch by its index.
type recordError struct {
	Index int    `json:"index"`
	ID    string `json:"id,omitempty"`
	Error string `json:"error"`
}

// record is what the ingest path needs of a record type.
type record[R any] interface {
	*R
	UnmarshalJSON([]byte) error
	Normalize()
	Validate(now time.Time) error
}

// keyOf returns a record's system_id (to fill or check) and id.
type keyOf[R any] func(*R) (systemID *string, id string)

func memoryKey(m *schemas.Memory) (*string, string)     { return &m.SystemID, m.ID }
func entityKey(e *schemas.Entity) (*string, string)     { return &e.SystemID, e.ID }
func relationKey(r *schemas.Relation) (*string, string) { return &r.SystemID, r.ID }

// splitBody cuts a request body into raw records: a JSON object
// {"system_id", "records": [...]}, or NDJSON, one record per line (the batch
// system_id then comes from the system_id query parameter, if any).
func splitBody(r *http.Request, body []byte) (schemas.Batch, error) {
	switch ct := mediaType(r); ct {
	case "application/x-ndjson", "application/ndjson", "application/jsonl":
		b := schemas.Batch{SystemID: r.URL.Query().Get("system_id")}
		for len(body) > 0 {
			line := body
			if i := bytes.IndexByte(body, '\n'); i >= 0 {
				line, body = body[:i], body[i+1:]
			} else {
				body = nil
			}
			line = bytes.TrimSpace(line)
			if len(line) == 0 {
				continue
			}
			b.Records = append(b.Records, line)
		}
		return b, nil
	case "", "application/json":
		b, err := schemas.SplitBatch(body)
		if err != nil {
			return b, httpx.Errorf(http.StatusBadRequest, "malformed_json", "%v", err)
		}
		return b, nil
	default:
		return schemas.Batch{}, httpx.Errorf(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"Content-Type %q: send application/json or application/x-ndjson", ct)
	}
}

func mediaType(r *http.Request) string {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return ct
}

// decodeBody splits a request body and decodes its records (see splitBody
// and decodeRecords); total is the number of records in the batch. A JSON
// batch of the usual shape is cut by fastSplit, which leaves checking each
// record to its decoding. When any record then fails to decode (it may be
// malformed, which makes the whole request malformed), the body goes the
// reference way, schemas.SplitBatch then decodeRecords, so that every answer
// is the one that way gives.
func decodeBody[R any, P record[R]](r *http.Request, body []byte, key keyOf[R], now time.Time, maxRecords int) (total int, recs []R, errs []recordError, err error) {
	if ct := mediaType(r); ct == "" || ct == "application/json" {
		if b, ok := fastSplit(body); ok && len(b.Records) <= maxRecords {
			recs, errs, undecodable, err := decodeChecked[R, P](b, key, now, maxRecords)
			if !undecodable {
				return len(b.Records), recs, errs, err
			}
		}
	}
	b, err := splitBody(r, body)
	if err != nil {
		return 0, nil, nil, err
	}
	recs, errs, err = decodeRecords[R, P](b, key, now, maxRecords)
	return len(b.Records), recs, errs, err
}

// decodeRecords decodes and validates every record on its own: valid ones are
// returned, invalid ones reported by index. A record that names a system
// other than the batch's is invalid.
func decodeRecords[R any, P record[R]](b schemas.Batch, key keyOf[R], now time.Time, maxRecords int) ([]R, []recordError, error) {
	recs, errs, _, err := decodeChecked[R, P](b, key, now, maxRecords)
	return recs, errs, err
}

// decodeChecked is decodeRecords that also reports whether any record failed
// to decode (as opposed to decoding and failing validation).
func decodeChecked[R any, P record[R]](b schemas.Batch, key keyOf[R], now time.Time, maxRecords int) (valid []R, errs []recordError, undecodable bool, err error) {
	if len(b.Records) == 0 {
		return nil, nil, false, httpx.Errorf(http.StatusBadRequest, "empty_batch", "the batch has no records")
	}
	if len(b.Records) > maxRecords {
		return nil, nil, false, httpx.Errorf(http.StatusRequestEntityTooLarge, "too_many_records",
			"the batch has %d records; the limit is %d", len(b.Records), maxRecords)
	}
	valid = make([]R, 0, len(b.Records))
	for i, raw := range b.Records {
		var rec R
		p := P(&rec)
		if err := p.UnmarshalJSON(raw); err != nil {
			errs = append(errs, recordError{Index: i, Error: err.Error()})
			undecodable = true
			continue
		}
		sys, id := key(&rec)
		switch {
		case *sys == "":
			*sys = b.SystemID
		case b.SystemID != "" && *sys != b.SystemID:
			errs = append(errs, recordError{Index: i, ID: id, Error: fmt.Sprintf(
				"system_id: %q differs from the batch's %q", *sys, b.SystemID)})
			continue
		}
		p.Normalize()
		if err := p.Validate(now); err != nil {
			errs = append(errs, recordError{Index: i, ID: id, Error: err.Error()})
			continue
		}
		valid = append(valid, rec)
	}
	return valid, errs, undecodable, nil
}
