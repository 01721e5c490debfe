package storage_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake/storage"
)

// putRecorder is an S3 transport that records the headers of PUT requests
// and, when corrupt is set, flips a byte of their bodies on the way, as a
// faulty network or proxy would.
type putRecorder struct {
	mu      sync.Mutex
	headers []http.Header
	corrupt bool
}

func (p *putRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut && req.Body != nil {
		p.mu.Lock()
		p.headers = append(p.headers, req.Header.Clone())
		corrupt := p.corrupt
		p.mu.Unlock()
		if corrupt {
			b, err := io.ReadAll(req.Body)
			req.Body.Close()
			if err != nil {
				return nil, err
			}
			if len(b) > 0 {
				b[len(b)/2] ^= 0x20
			}
			req = req.Clone(req.Context())
			req.Body = io.NopCloser(bytes.NewReader(b))
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestS3PutChecksum checks that single-request uploads are sent with an
// unsigned payload and a CRC32C of the body, and that the S3 server verifies
// that checksum: a body changed in transit is refused, not stored.
func TestS3PutChecksum(t *testing.T) {
	// The SDK cannot add a CA bundle to a client it did not build, and the
	// bundle is for TLS, which the test server does not use.
	t.Setenv("AWS_CA_BUNDLE", "")
	rec := &putRecorder{}
	cfg := testenv.S3Config(t)
	cfg.HTTPClient = &http.Client{Transport: rec}
	s, err := storage.NewS3(ctx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureBucket(ctx(t)); err != nil {
		t.Fatal(err)
	}
	data := []byte(strings.Repeat("parquet bytes ", 1000))
	// A reader that is not a ReadSeeker, and a ReadSeeker not at its start.
	if err := s.Put(ctx(t), "a/plain", io.MultiReader(bytes.NewReader(data)), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	seeker := bytes.NewReader(append([]byte("skip"), data...))
	seeker.Seek(4, io.SeekStart)
	if err := s.PutIfAbsent(ctx(t), "a/seeker", seeker, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"a/plain", "a/seeker"} {
		r, err := s.Get(ctx(t), key, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: read back %d bytes (%v), want the %d put", key, len(got), err, len(data))
		}
	}
	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	h.Write(data)
	want := base64.StdEncoding.EncodeToString(h.Sum(nil))
	rec.mu.Lock()
	if len(rec.headers) != 2 {
		t.Fatalf("recorded %d PUTs, want 2", len(rec.headers))
	}
	for i, hd := range rec.headers {
		if got := hd.Get("X-Amz-Content-Sha256"); got != "UNSIGNED-PAYLOAD" {
			t.Errorf("PUT %d: x-amz-content-sha256 = %q, want UNSIGNED-PAYLOAD", i, got)
		}
		if got := hd.Get("X-Amz-Checksum-Crc32c"); got != want {
			t.Errorf("PUT %d: x-amz-checksum-crc32c = %q, want %q", i, got, want)
		}
		if !strings.Contains(hd.Get("Authorization"), "x-amz-checksum-crc32c") {
			t.Errorf("PUT %d: the signature does not cover the checksum: %s", i, hd.Get("Authorization"))
		}
	}
	rec.corrupt = true
	rec.mu.Unlock()

	err = s.Put(ctx(t), "a/corrupt", bytes.NewReader(data), int64(len(data)))
	if err == nil {
		t.Fatal("a body corrupted in transit was stored")
	}
	t.Logf("corrupted body refused: %v", err)
	rec.mu.Lock()
	rec.corrupt = false
	rec.mu.Unlock()
	if _, err := s.Head(ctx(t), "a/corrupt"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("after the refused put, head = %v, want ErrNotExist", err)
	}
}
