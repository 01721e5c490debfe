package importer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/gzip"

	"github.com/akosha/akosha/lake/storage"
)

// duckdbMagic is at offset 8 of every DuckDB database file. Checking it
// before ATTACH turns "someone uploaded a zip" into a clear refusal instead of
// a storage-layer error, and keeps other formats away from DuckDB's readers.
var duckdbMagic = []byte("DUCK")

// fetchFile downloads one database of an upload into dir, decompressing it,
// and returns the local path. It refuses, before writing more than the limits
// allow, an object larger than maxStored or one that decompresses to more
// than maxSize (a gzip bomb), and checks size_bytes and the checksum when the
// manifest gives them.
func fetchFile(ctx context.Context, src storage.Store, key string, f File, dir string, maxStored, maxSize int64) (string, error) {
	info, err := src.Head(ctx, key)
	if errors.Is(err, storage.ErrNotExist) {
		return "", invalid("%s is listed in the manifest but missing", key)
	}
	if err != nil {
		return "", fmt.Errorf("head %s: %w", key, err)
	}
	if info.Size > maxStored {
		return "", invalid("%s is %d bytes, more than the limit of %d", key, info.Size, maxStored)
	}
	rc, err := src.Get(ctx, key, 0, -1)
	if err != nil {
		return "", fmt.Errorf("get %s: %w", key, err)
	}
	defer rc.Close()

	// stored counts and hashes the bytes as they come from the store; size
	// and the file do the same for what is written to disk.
	stored := newMeter(ctx, io.LimitReader(rc, maxStored+1), true, f.SHA256 != "")
	br := bufio.NewReaderSize(stored, 64<<10)
	compressed, err := isGzip(br, f.Compression)
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	var body io.Reader = br
	if compressed {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return "", invalid("%s: gzip: %v", key, err)
		}
		defer zr.Close()
		body = zr
	}
	out := newMeter(ctx, io.LimitReader(body, maxSize+1), false, f.SHA256 != "")

	path := filepath.Join(dir, f.Name)
	// O_EXCL: the directory is private and fresh, so an existing file means a
	// bug, not something to overwrite.
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", path, err)
	}
	_, copyErr := io.Copy(w, out)
	closeErr := w.Close()
	switch {
	case ctx.Err() != nil:
		return "", ctx.Err()
	case out.n > maxSize:
		return "", invalid("%s decompresses to more than the limit of %d bytes", key, maxSize)
	case stored.n > maxStored:
		return "", invalid("%s is more than the limit of %d bytes", key, maxStored)
	case copyErr != nil && compressed && !errors.Is(copyErr, errMeterRead):
		return "", invalid("%s: gzip: %v", key, copyErr)
	case copyErr != nil:
		return "", fmt.Errorf("download %s: %w", key, copyErr)
	case closeErr != nil:
		return "", fmt.Errorf("write %s: %w", path, closeErr)
	case stored.n != info.Size:
		// The object changed or the stream was cut short.
		return "", fmt.Errorf("download %s: got %d bytes, the object has %d", key, stored.n, info.Size)
	}
	if f.Size > 0 && f.Size != stored.n && f.Size != out.n {
		return "", invalid("%s: size_bytes %d matches neither the object (%d) nor its content (%d)", key, f.Size, stored.n, out.n)
	}
	if f.SHA256 != "" && f.SHA256 != stored.sum() && f.SHA256 != out.sum() {
		return "", invalid("%s: checksum mismatch: manifest says sha256 %s", key, f.SHA256)
	}
	if err := checkDuckDBFile(path); err != nil {
		return "", invalid("%s: %v", key, err)
	}
	return path, nil
}

// isGzip decides whether the stream is gzip: as the manifest says, or by the
// magic number when it says nothing.
func isGzip(br *bufio.Reader, compression string) (bool, error) {
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	isGz := len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b
	switch compression {
	case compressionGzip:
		if !isGz {
			return false, invalid("compression is gzip but the object is not gzip data")
		}
		return true, nil
	case compressionNone:
		return false, nil
	}
	return isGz, nil
}

func checkDuckDBFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var head [12]byte
	if _, err := io.ReadFull(f, head[:]); err != nil || !bytes.Equal(head[8:12], duckdbMagic) {
		return errors.New("not a DuckDB database file")
	}
	return nil
}

// errMeterRead marks errors of the underlying (store) stream, so that they are
// not mistaken for corrupt gzip data.
var errMeterRead = errors.New("read error")

// meter counts (and optionally hashes) what is read through it, and stops at
// the context's end: a local store's reader would not. A source meter marks
// its reader's errors with errMeterRead.
type meter struct {
	ctx    context.Context
	r      io.Reader
	source bool
	n      int64
	h      hash.Hash
}

func newMeter(ctx context.Context, r io.Reader, source, hashing bool) *meter {
	m := &meter{ctx: ctx, r: r, source: source}
	if hashing {
		m.h = sha256.New()
	}
	return m
}

func (m *meter) Read(p []byte) (int, error) {
	if err := m.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := m.r.Read(p)
	m.n += int64(n)
	if m.h != nil {
		m.h.Write(p[:n])
	}
	if m.source && err != nil && err != io.EOF {
		err = fmt.Errorf("%w: %w", errMeterRead, err)
	}
	return n, err
}

func (m *meter) sum() string {
	if m.h == nil {
		return ""
	}
	return hex.EncodeToString(m.h.Sum(nil))
}
