package httpx_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/akosha/akosha/internal/httpx"
)

func gzipped(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstded(t testing.TB, data []byte, opts ...zstd.EOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// hugeWindowFrame is a valid zstd frame holding "hello" whose header asks
// the decoder for a 64 MiB window (RFC 8878, 3.1.1): a few bytes that would
// make a naive decoder allocate 64 MiB.
var hugeWindowFrame = []byte{
	0x28, 0xb5, 0x2f, 0xfd, // magic number
	0x00,             // frame header descriptor: no content size, not single-segment, no checksum
	16 << 3,          // window descriptor: exponent 16 -> 2^(10+16) = 64 MiB
	0x29, 0x00, 0x00, // block header: last block, raw, 5 bytes
	'h', 'e', 'l', 'l', 'o',
}

// echo is a handler that answers with its decoded body, or the error.
func echo(limit int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := httpx.DecodeBody(w, r, limit)
		if err != nil {
			httpx.WriteErr(w, err)
			return
		}
		defer body.Close()
		data, err := io.ReadAll(body)
		if err != nil {
			httpx.WriteErr(w, err)
			return
		}
		w.Write(data)
	}
}

func TestDecodeBody(t *testing.T) {
	const limit = 1 << 20
	text := []byte(strings.Repeat("memory ", 1000))
	atLimit := bytes.Repeat([]byte{'a'}, limit)
	// A zip bomb: a few kilobytes on the wire, 4 times the limit decoded.
	bomb := make([]byte, 4*limit)

	tests := []struct {
		name       string
		encoding   string
		body       []byte
		wantStatus int
		wantCode   string // for errors
		wantBody   []byte // for successes
	}{
		{name: "plain", body: text, wantStatus: 200, wantBody: text},
		{name: "identity", encoding: "identity", body: text, wantStatus: 200, wantBody: text},
		{name: "gzip", encoding: "gzip", body: gzipped(t, text), wantStatus: 200, wantBody: text},
		{name: "x-gzip alias, any case", encoding: "X-GZip", body: gzipped(t, text), wantStatus: 200, wantBody: text},
		{name: "zstd", encoding: "zstd", body: zstded(t, text), wantStatus: 200, wantBody: text},
		{name: "exactly the limit is allowed", body: atLimit, wantStatus: 200, wantBody: atLimit},
		{name: "exactly the limit decoded is allowed", encoding: "gzip", body: gzipped(t, atLimit), wantStatus: 200, wantBody: atLimit},

		{name: "plain over the limit", body: append(atLimit, 'b'), wantStatus: 413, wantCode: "body_too_large"},
		{name: "gzip bomb", encoding: "gzip", body: gzipped(t, bomb), wantStatus: 413, wantCode: "body_too_large"},
		{name: "zstd bomb", encoding: "zstd", body: zstded(t, bomb), wantStatus: 413, wantCode: "body_too_large"},
		{name: "zstd frame asking for a 64 MiB window", encoding: "zstd",
			body: hugeWindowFrame, wantStatus: 413, wantCode: "body_too_large"},

		{name: "brotli is not supported", encoding: "br", body: text, wantStatus: 415, wantCode: "unsupported_encoding"},
		{name: "stacked codings are not supported", encoding: "gzip, zstd", body: text, wantStatus: 415, wantCode: "unsupported_encoding"},

		{name: "not gzip at all", encoding: "gzip", body: text, wantStatus: 400, wantCode: "malformed_body"},
		{name: "empty gzip body", encoding: "gzip", body: nil, wantStatus: 400, wantCode: "malformed_body"},
		{name: "truncated gzip", encoding: "gzip", body: gzipped(t, text)[:40], wantStatus: 400, wantCode: "malformed_body"},
		{name: "not zstd at all", encoding: "zstd", body: text, wantStatus: 400, wantCode: "malformed_body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "gzip bomb" || tt.name == "zstd bomb" {
				if n := len(tt.body); n >= limit/16 {
					t.Fatalf("the bomb is %d bytes on the wire; it should be tiny", n)
				}
			}
			req := httptest.NewRequest(http.MethodPost, "/v1/memories", bytes.NewReader(tt.body))
			if tt.encoding != "" {
				req.Header.Set("Content-Encoding", tt.encoding)
			}
			rec := httptest.NewRecorder()
			echo(limit).ServeHTTP(rec, req)

			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %.200s", rec.Code, tt.wantStatus, rec.Body.String())
			}
			if tt.wantCode != "" {
				if got := decodeError(t, rec).Error.Code; got != tt.wantCode {
					t.Errorf("code = %q, want %q", got, tt.wantCode)
				}
				return
			}
			if !bytes.Equal(rec.Body.Bytes(), tt.wantBody) {
				t.Errorf("decoded body differs: got %d bytes, want %d", rec.Body.Len(), len(tt.wantBody))
			}
		})
	}
}

func TestHugeWindowFrameIsValidZstd(t *testing.T) {
	// The 413 above is about the window, not about broken data.
	d, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got, err := d.DecodeAll(hugeWindowFrame, nil)
	if err != nil || string(got) != "hello" {
		t.Errorf("DecodeAll = %q, %v; want hello", got, err)
	}
}

func TestDecodeBodyTellsWhichEncodingsWork(t *testing.T) {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("x"))
	req.Header.Set("Content-Encoding", "br")
	rec := httptest.NewRecorder()
	echo(0).ServeHTTP(rec, req)

	if got := rec.Header().Get("Accept-Encoding"); got != "gzip, zstd" {
		t.Errorf("Accept-Encoding = %q, want %q", got, "gzip, zstd")
	}
}

// failingReader fails like a connection reset mid-body.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestDecodeBodyPassesConnectionErrorsThrough(t *testing.T) {
	// A failing connection under a decoder is not the client's bad data:
	// it must not be reported as 400 malformed_body.
	for _, enc := range []string{"", "zstd"} {
		req := httptest.NewRequest(http.MethodPost, "/", io.NopCloser(failingReader{}))
		req.Header.Set("Content-Encoding", enc)
		body, err := httpx.DecodeBody(httptest.NewRecorder(), req, 0)
		if err != nil {
			t.Fatalf("%q: DecodeBody: %v", enc, err)
		}
		_, err = io.ReadAll(body)
		body.Close()
		if err != io.ErrClosedPipe {
			t.Errorf("%q: read error = %v, want io.ErrClosedPipe unchanged", enc, err)
		}
	}
}

func TestDecodeJSON(t *testing.T) {
	type batch struct {
		SystemID string `json:"system_id"`
		Records  []int  `json:"records"`
	}
	tests := []struct {
		name       string
		body       string
		wantStatus int // 0: success
		wantCode   string
	}{
		{name: "one object", body: `{"system_id":"sb-1","records":[1,2]}`},
		{name: "trailing white space is fine", body: "{\"system_id\":\"sb-1\"}\n\n"},
		{name: "unknown fields are ignored", body: `{"system_id":"sb-1","future":true}`},
		{name: "empty body", body: "", wantStatus: 400, wantCode: "malformed_json"},
		{name: "syntax error", body: `{"system_id":}`, wantStatus: 400, wantCode: "malformed_json"},
		{name: "truncated", body: `{"system_id":"sb-1"`, wantStatus: 400, wantCode: "malformed_json"},
		{name: "wrong type", body: `{"records":"many"}`, wantStatus: 400, wantCode: "malformed_json"},
		{name: "two values", body: `{} {}`, wantStatus: 400, wantCode: "malformed_json"},
		{name: "garbage after the value", body: `{} x`, wantStatus: 400, wantCode: "malformed_json"},
		{name: "too large", body: `{"system_id":"` + strings.Repeat("x", 100) + `"}`, wantStatus: 413, wantCode: "body_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			rec := httptest.NewRecorder()
			var v batch
			err := httpx.DecodeJSON(rec, req, 64, &v)

			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatalf("DecodeJSON: %v", err)
				}
				if v.SystemID != "sb-1" {
					t.Errorf("system_id = %q, want sb-1", v.SystemID)
				}
				return
			}
			httpx.WriteErr(rec, err)
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d (err %v)", rec.Code, tt.wantStatus, err)
			}
			if got := decodeError(t, rec).Error.Code; got != tt.wantCode {
				t.Errorf("code = %q, want %q", got, tt.wantCode)
			}
		})
	}
}
