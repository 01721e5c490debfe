package httpx_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/akosha/akosha/internal/httpx"
)

// errorResponse is the wire shape of every error answer.
type errorResponse struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// decodeError checks that rec holds a JSON error answer and returns it.
func decodeError(t *testing.T, rec *httptest.ResponseRecorder) errorResponse {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var body errorResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body %q is not JSON: %v", rec.Body.String(), err)
	}
	return body
}

func TestWriteError(t *testing.T) {
	rec := httptest.NewRecorder()
	httpx.WriteError(rec, http.StatusConflict, "idempotency_conflict", "key reused with a different body")

	if rec.Code != http.StatusConflict {
		t.Errorf("status = %d, want 409", rec.Code)
	}
	want := `{"error":{"code":"idempotency_conflict","message":"key reused with a different body"}}` + "\n"
	if got := rec.Body.String(); got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
}

func TestWriteErr(t *testing.T) {
	cause := errors.New("s3: GET lake/memories/_delta_log/42.json: connection refused")
	tests := []struct {
		name        string
		err         error
		wantStatus  int
		wantCode    string
		wantMessage string
	}{
		{
			name:        "an *Error answers with its own status, code and message",
			err:         httpx.Errorf(http.StatusUnprocessableEntity, "invalid_record", "record %d: content is empty", 3),
			wantStatus:  422,
			wantCode:    "invalid_record",
			wantMessage: "record 3: content is empty",
		},
		{
			name:        "an *Error wrapped in context still answers as itself",
			err:         fmt.Errorf("ingest: %w", httpx.Errorf(http.StatusNotFound, httpx.CodeNotFound, "no memory m1")),
			wantStatus:  404,
			wantCode:    "not_found",
			wantMessage: "no memory m1",
		},
		{
			name:        "any other error is a 500 that does not leak its detail",
			err:         fmt.Errorf("load snapshot: %w", cause),
			wantStatus:  500,
			wantCode:    "internal",
			wantMessage: "internal error",
		},
		{
			name:        "a body over http.MaxBytesReader's limit is 413",
			err:         &http.MaxBytesError{Limit: 1024},
			wantStatus:  413,
			wantCode:    "body_too_large",
			wantMessage: "request body exceeds 1024 bytes",
		},
		{
			name:        "a passed request deadline is 503 timeout",
			err:         fmt.Errorf("query: %w", context.DeadlineExceeded),
			wantStatus:  503,
			wantCode:    "timeout",
			wantMessage: "request deadline exceeded",
		},
		{
			name:        "a client that went away is 499",
			err:         context.Canceled,
			wantStatus:  499,
			wantCode:    "client_closed",
			wantMessage: "request canceled",
		},
		{
			name:        "a nil error is a bug, not a success",
			err:         nil,
			wantStatus:  500,
			wantCode:    "internal",
			wantMessage: "internal error",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			httpx.WriteErr(rec, tt.err)

			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			body := decodeError(t, rec)
			if body.Error.Code != tt.wantCode || body.Error.Message != tt.wantMessage {
				t.Errorf("error = %+v, want code %q message %q", body.Error, tt.wantCode, tt.wantMessage)
			}
		})
	}
}

func TestErrorfKeepsTheCause(t *testing.T) {
	err := httpx.Errorf(http.StatusBadRequest, httpx.CodeMalformedJSON, "decode body: %w", io.ErrUnexpectedEOF)

	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("errors.Is(%v, io.ErrUnexpectedEOF) = false, want true", err)
	}
	if want := "decode body: unexpected EOF"; err.Message != want {
		t.Errorf("Message = %q, want %q", err.Message, want)
	}
	if want := "400 malformed_json: decode body: unexpected EOF"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	if plain := httpx.Errorf(http.StatusBadRequest, "c", "no cause"); plain.Unwrap() != nil {
		t.Errorf("Unwrap() without %%w = %v, want nil", plain.Unwrap())
	}
}

func TestWriteJSON(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		v          any
		wantStatus int
		wantBody   string
	}{
		{"a value", http.StatusCreated, map[string]int{"stored": 2}, 201, `{"stored":2}` + "\n"},
		{"nil is null", http.StatusOK, nil, 200, "null\n"},
		{"an unencodable value is a clean 500", http.StatusOK, math.Inf(1), 500,
			`{"error":{"code":"internal","message":"internal error"}}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			httpx.WriteJSON(rec, tt.status, tt.v)

			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if got := rec.Body.String(); got != tt.wantBody {
				t.Errorf("body = %q, want %q", got, tt.wantBody)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
		})
	}
}
