package ingest

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"

	"github.com/akosha/akosha/internal/httpx"
)

// bodyPool recycles request body buffers. A Session-Buddy batch of 100 is
// 260-380 KB; io.ReadAll grew each from 512 bytes, copying it about ten
// times and leaving as much garbage.
var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody is the largest buffer kept for reuse; rarer, larger bodies
// are left to the garbage collector.
const maxPooledBody = 4 << 20

// readBody reads the decoded request body (httpx.DecodeBody) into a pooled
// buffer, sized from Content-Length when the body is not compressed. The
// caller must pass the buffer to releaseBody once nothing refers to its
// bytes: decoding copies what records keep.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) (*bytes.Buffer, error) {
	rc, err := httpx.DecodeBody(w, r, limit)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	if n := r.ContentLength; n > 0 && n <= limit && r.Header.Get("Content-Encoding") == "" {
		// ReadFrom wants MinRead bytes free before each read, the last
		// one (which sees EOF) included. A claimed length is trusted only
		// up to maxPooledBody: a client cannot make us allocate more than
		// it sends.
		buf.Grow(int(min(n, maxPooledBody)) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(rc); err != nil {
		releaseBody(buf)
		return nil, fmt.Errorf("read request body: %w", err)
	}
	return buf, nil
}

func releaseBody(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledBody {
		bodyPool.Put(buf)
	}
}
