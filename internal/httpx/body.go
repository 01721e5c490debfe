package httpx

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// DefaultBodyLimit is the body limit DecodeBody applies when given none.
const DefaultBodyLimit = 64 << 20

// zstdMaxWindow bounds the memory a zstd stream may make the decoder reserve.
// The frame header declares the window, so without a bound a few bytes of
// hostile input could make the server allocate gigabytes before the body
// limit ever sees a decoded byte. 8 MiB is what RFC 8878 recommends every
// decoder support, and what the zstd CLI uses below level 20 without --long.
const zstdMaxWindow = 8 << 20

// DecodeBody returns the request body with its Content-Encoding removed and at
// most limit bytes long (DefaultBodyLimit when limit <= 0).
//
// The limit applies twice: to the bytes on the wire (http.MaxBytesReader, which
// also tells the server to close the connection) and to the decoded stream, so
// that a small compressed body cannot expand into gigabytes (a zip bomb).
// Exceeding either makes Read return an *Error with status 413 and code
// body_too_large. Undecodable compressed data makes Read return a 400
// malformed_body *Error; other read errors (a client that hangs up) come back
// unchanged. Pass any of them to WriteErr.
//
// Supported codings are identity, gzip (x-gzip) and zstd. Any other, or a
// list of several, returns a 415 unsupported_encoding *Error and sets the
// Accept-Encoding response header to the supported ones (RFC 9110, 15.5.16).
//
// The caller must Close the returned body; that releases the decoder, not the
// request body, which the server closes.
func DecodeBody(w http.ResponseWriter, r *http.Request, limit int64) (io.ReadCloser, error) {
	if limit <= 0 {
		limit = DefaultBodyLimit
	}
	raw := r.Body
	if raw == nil { // only client requests lack a body; be lenient in tests
		raw = http.NoBody
	}
	wire := &sourceReader{r: http.MaxBytesReader(w, raw, limit)}

	var decoded io.ReadCloser
	coding := codingName(r.Header.Get("Content-Encoding"))
	switch coding {
	case "":
		decoded = io.NopCloser(wire)
	case "gzip":
		// gzip.NewReader reads the header now: a body that is not gzip at
		// all fails here rather than at the first Read.
		zr, err := gzip.NewReader(wire)
		if err != nil {
			return nil, decodeError(err, coding, limit)
		}
		decoded = zr
	case "zstd":
		// One decoder goroutine-free stream per request: concurrency 1 makes
		// the decoder work synchronously inside Read, so an abandoned body
		// leaves nothing running; lowmem trades a little speed for not
		// holding large buffers per open request.
		zr, err := zstd.NewReader(wire,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, fmt.Errorf("httpx: new zstd decoder: %w", err)
		}
		decoded = zstdCloser{zr}
	default:
		w.Header().Set("Accept-Encoding", "gzip, zstd")
		return nil, Errorf(http.StatusUnsupportedMediaType, CodeUnsupportedEncoding,
			"unsupported Content-Encoding %q (supported: gzip, zstd)", r.Header.Get("Content-Encoding"))
	}
	return &decodedBody{rc: decoded, limit: limit, remain: limit, coding: coding}, nil
}

// codingName normalizes a Content-Encoding value: "" for identity, "gzip" for
// its x-gzip alias, anything else (including a list) lower-cased as is.
func codingName(h string) string {
	switch c := strings.ToLower(strings.TrimSpace(h)); c {
	case "", "identity":
		return ""
	case "x-gzip":
		return "gzip"
	default:
		return c
	}
}

// DecodeJSON decodes the request body (see DecodeBody for limits and codings)
// into v, which must be the body's only JSON value. Problems come back as
// *Error values ready for WriteErr: 400 malformed_json for bad JSON, a
// missing body or trailing data, 413 and 415 as DecodeBody.
func DecodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	body, err := DecodeBody(w, r, limit)
	if err != nil {
		return err
	}
	defer body.Close()

	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	// A second value (or garbage) after the first is an error: silently
	// ignoring it would accept a body the client did not mean to send.
	var extra json.RawMessage
	switch err := dec.Decode(&extra); {
	case err == io.EOF:
		return nil
	case err == nil:
		return Errorf(http.StatusBadRequest, CodeMalformedJSON, "body holds more than one JSON value")
	default:
		return jsonError(err)
	}
}

func jsonError(err error) error {
	var he *Error
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &he):
		return he
	case err == io.EOF:
		return Errorf(http.StatusBadRequest, CodeMalformedJSON, "request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Errorf(http.StatusBadRequest, CodeMalformedJSON, "request body ends in the middle of a JSON value")
	case errors.As(err, &syn):
		return Errorf(http.StatusBadRequest, CodeMalformedJSON, "invalid JSON at byte %d: %w", syn.Offset, err)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(top level)"
		}
		return Errorf(http.StatusBadRequest, CodeMalformedJSON, "field %s: cannot use JSON %s as %s: %w",
			field, typ.Value, typ.Type, err)
	default:
		// A read error from the connection, not the client's JSON.
		return err
	}
}

// sourceReader marks the errors of the wire stream so that decodedBody can
// tell them from decoding errors. io.EOF stays unwrapped: readers compare it
// with ==.
type sourceReader struct{ r io.Reader }

type sourceError struct{ err error }

func (e sourceError) Error() string { return e.err.Error() }
func (e sourceError) Unwrap() error { return e.err }

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = sourceError{err}
	}
	return n, err
}

// decodedBody limits the decoded stream and translates errors for WriteErr.
type decodedBody struct {
	rc     io.ReadCloser
	limit  int64
	remain int64
	coding string // "" for identity
	err    error  // sticky: once over the limit, always over the limit
}

func (b *decodedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	// Read one byte more than allowed, as http.MaxBytesReader does: reaching
	// the limit exactly is fine, only data beyond it is an error.
	if int64(len(p)) > b.remain+1 {
		p = p[:b.remain+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.remain {
		n = int(b.remain)
		b.remain = 0
		b.err = Errorf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge,
			"decoded request body exceeds %d bytes", b.limit)
		return n, b.err
	}
	b.remain -= int64(n)
	if err != nil && err != io.EOF {
		err = decodeError(err, b.coding, b.limit)
		b.err = err
	}
	return n, err
}

func (b *decodedBody) Close() error { return b.rc.Close() }

// decodeError translates an error from the decoding chain.
func decodeError(err error, coding string, limit int64) error {
	var se sourceError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return Errorf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge,
			"request body exceeds %d bytes", limit)
	case errors.As(err, &se):
		return se.err // the connection failed, not the client's data
	case errors.Is(err, zstd.ErrWindowSizeExceeded):
		return Errorf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge,
			"zstd window exceeds %d bytes: %w", zstdMaxWindow, err)
	case coding == "":
		return err
	case err == io.EOF:
		return Errorf(http.StatusBadRequest, CodeMalformedBody, "empty %s body", coding)
	default:
		return Errorf(http.StatusBadRequest, CodeMalformedBody, "invalid %s data: %w", coding, err)
	}
}

// zstdCloser adapts *zstd.Decoder, whose Close returns nothing.
type zstdCloser struct{ d *zstd.Decoder }

func (z zstdCloser) Read(p []byte) (int, error) { return z.d.Read(p) }
func (z zstdCloser) Close() error               { z.d.Close(); return nil }

// ReadBody reads the whole decoded body (see DecodeBody) into memory.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	rc, err := DecodeBody(w, r, limit)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
