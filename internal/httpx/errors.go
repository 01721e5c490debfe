// Package httpx holds the HTTP plumbing the ingest and query functions share:
// the JSON error shape of the public API, request body decoding with size
// limits and content codings, a request deadline, and request metrics.
//
// Every error a client sees has one shape (api/openapi.yaml, schema Error):
//
//	{"error": {"code": "body_too_large", "message": "request body exceeds 1048576 bytes"}}
//
// Handlers return an *Error for problems the client can act on and any other
// error for everything else; WriteErr turns both into a response, hiding the
// detail of unexpected errors from the client and logging it instead.
package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// Error codes shared by the functions. Clients branch on the code, never on
// the message, so a code once published keeps its meaning.
const (
	CodeMalformedBody       = "malformed_body"       // 400: the body cannot be decoded (bad gzip/zstd data)
	CodeMalformedJSON       = "malformed_json"       // 400: the body is not the JSON the endpoint takes
	CodeUnauthorized        = "unauthorized"         // 401: no or invalid credentials
	CodeForbidden           = "forbidden"            // 403: valid credentials without the permission
	CodeNotFound            = "not_found"            // 404
	CodeBodyTooLarge        = "body_too_large"       // 413: the body, compressed or not, exceeds the limit
	CodeUnsupportedEncoding = "unsupported_encoding" // 415: a Content-Encoding other than gzip or zstd
	CodeRateLimited         = "rate_limited"         // 429: see the Retry-After header
	CodeClientClosed        = "client_closed"        // 499: the client went away before the answer
	CodeInternal            = "internal"             // 500: a bug or an unexpected failure, logged
	CodeNotReady            = "not_ready"            // 503: the function has not started yet
	CodeTimeout             = "timeout"              // 503: the request deadline passed
)

// StatusClientClosedRequest is nginx's non-standard status for a request whose
// client disconnected before the answer. Nobody reads that answer; the status
// exists so metrics and logs tell an impatient client from a failing server.
const StatusClientClosedRequest = 499

// Error is an error with the HTTP status, code and message to answer it with.
// The message is sent to the client verbatim, so it must not hold secrets or
// internal detail; the optional cause (see Errorf) is kept for errors.Is/As and
// logs only.
type Error struct {
	Status  int    // HTTP status, e.g. http.StatusBadRequest
	Code    string // stable, machine-readable, e.g. CodeBodyTooLarge
	Message string // human-readable, sent to the client

	cause error
}

// Errorf returns an *Error whose message is fmt.Sprintf(format, args...).
// As with fmt.Errorf, a %w verb makes the argument the error's cause:
//
//	httpx.Errorf(http.StatusBadRequest, httpx.CodeMalformedJSON, "decode body: %w", err)
func Errorf(status int, code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	e := &Error{Status: status, Code: code, Message: err.Error()}
	switch err.(type) {
	case interface{ Unwrap() error }, interface{ Unwrap() []error }:
		e.cause = err
	}
	return e
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

// Unwrap returns the cause given to Errorf with %w, if any.
func (e *Error) Unwrap() error { return e.cause }

// errorBody is the wire shape of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WriteError answers with status and the JSON error body
// {"error":{"code":code,"message":message}}.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	WriteJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: message}})
}

// WriteErr answers a request that failed with err.
//
//   - An *Error anywhere in err's chain answers with its status, code and message.
//   - A body over its limit (*http.MaxBytesError) answers 413 body_too_large.
//   - context.DeadlineExceeded (see WithTimeout) answers 503 timeout.
//   - context.Canceled answers 499 client_closed: the client is gone.
//   - Anything else is a 500 with a generic message; the detail goes to the
//     log, not to the client, because it may name hosts, paths or SQL.
func WriteErr(w http.ResponseWriter, err error) {
	status, code, msg := classify(err)
	switch {
	case status == StatusClientClosedRequest:
		slog.Debug("http: client closed the request", "err", err)
	case code == CodeInternal:
		slog.Error("http: internal error", "err", err)
	case status >= 500:
		slog.Warn("http: request failed", "status", status, "code", code, "err", err)
	}
	WriteError(w, status, code, msg)
}

// classify maps err to the status, code and message WriteErr answers with.
func classify(err error) (status int, code, msg string) {
	var he *Error
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		// A handler calling WriteErr without an error is a bug; answering 200
		// with an error body would hide it.
		return http.StatusInternalServerError, CodeInternal, "internal error"
	case errors.As(err, &he):
		return he.Status, he.Code, he.Message
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, CodeBodyTooLarge,
			fmt.Sprintf("request body exceeds %d bytes", mbe.Limit)
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, CodeTimeout, "request deadline exceeded"
	case errors.Is(err, context.Canceled):
		return StatusClientClosedRequest, CodeClientClosed, "request canceled"
	default:
		return http.StatusInternalServerError, CodeInternal, "internal error"
	}
}

// WriteJSON answers with status and v encoded as JSON. v is encoded before
// anything is written, so a value that cannot be encoded becomes a clean 500
// instead of a 200 with half a body.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		slog.Error("http: encode response", "type", fmt.Sprintf("%T", v), "err", err)
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	// A failed write means the client is gone; there is nobody to tell.
	_, _ = w.Write(append(b, '\n'))
}
