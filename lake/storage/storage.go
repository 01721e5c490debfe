// Package storage is the lake's view of object storage: one small interface,
// implemented by a local directory and by S3, with identical semantics.
//
// Keys are slash-separated relative paths ("memories/_delta_log/00000000000000000000.json").
// Objects are immutable once written except for Put, which replaces atomically:
// a reader sees either the old bytes or the new ones, never a mix.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

var (
	// ErrNotExist is returned (wrapped) when a key has no object.
	ErrNotExist = errors.New("object does not exist")
	// ErrExists is returned (wrapped) by PutIfAbsent when the key already holds an object:
	// the caller lost the race.
	ErrExists = errors.New("object already exists")
)

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Store is the storage contract every backend honours.
type Store interface {
	// Get reads length bytes from offset (length < 0 reads to the end).
	Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	// Put writes the object, replacing any previous one atomically.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// PutIfAbsent writes the object only if the key is free; otherwise ErrExists.
	// Exactly one of many concurrent callers for one key succeeds.
	PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error
	// Head returns the object's size and modification time, or ErrNotExist.
	Head(ctx context.Context, key string) (ObjectInfo, error)
	// List returns every object whose key starts with prefix, sorted by key.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	// Delete removes the object; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// Locator is a store that can name where it keeps its objects.
type Locator interface {
	// Location is a URL-like name of the store's root, unique per lake:
	// s3://endpoint/bucket/prefix or file:///dir.
	Location() string
}

// Location names store s's root, or "" when it cannot say.
func Location(s Store) string {
	if l, ok := s.(Locator); ok {
		return l.Location()
	}
	return ""
}

// ClassPutter is a store whose objects have storage classes (S3).
type ClassPutter interface {
	PutClass(ctx context.Context, key string, r io.Reader, size int64, class string) error
}

// PutClass writes an object in storage class class where the store has
// classes, and as a plain Put where it has none (a local directory) or when
// class is empty.
func PutClass(ctx context.Context, s Store, key string, r io.Reader, size int64, class string) error {
	if cp, ok := s.(ClassPutter); ok && class != "" {
		return cp.PutClass(ctx, key, r, size, class)
	}
	return s.Put(ctx, key, r, size)
}

// ReadAll reads a whole object into memory.
func ReadAll(ctx context.Context, s Store, key string) ([]byte, error) {
	rc, err := s.Get(ctx, key, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := readSized(rc, remaining(rc))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return b, nil
}

// sized is a body that knows how many bytes it has left to give: an S3
// body knows its Content-Length, a local file its size.
type sized interface {
	Remaining() int64
}

// remaining is what r says it has left, or -1 when it cannot say.
func remaining(r io.Reader) int64 {
	switch r := r.(type) {
	case sized:
		return r.Remaining()
	case *os.File: // Local's whole-object Get
		fi, err := r.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return -1
		}
		pos, err := r.Seek(0, io.SeekCurrent)
		if err != nil {
			return -1
		}
		return max(fi.Size()-pos, 0)
	}
	return -1
}

// maxPrealloc bounds what a size hint may allocate up front: a hint is the
// server's word, and a wrong one must not cost more than the read would.
const maxPrealloc = 1 << 30

// readSized reads r to its end into one buffer of the size hint (plus one
// byte, so the end is seen without growing). io.ReadAll starts at 512
// bytes and doubles, copying a 100 MB object about twice over and faulting
// in every intermediate buffer; objects here are mostly read whole and
// their size is known. A hint that is wrong only costs growth.
func readSized(r io.Reader, hint int64) ([]byte, error) {
	if hint < 0 || hint > maxPrealloc {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, hint+1)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		// The end is io.EOF itself, as io.ReadAll tests it: an error that
		// only wraps io.EOF (a connection closed mid-body, after the
		// resumed GET failed) is a cut, not the end.
		if err == io.EOF { //nolint:errorlint // the io.Reader contract
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // longer than said: grow as io.ReadAll would
		}
	}
}

// CheckKey refuses keys that could escape the store's root or alias another key.
func CheckKey(key string) error {
	if key == "" {
		return fmt.Errorf("empty key")
	}
	if strings.HasPrefix(key, "/") || strings.Contains(key, "\\") || strings.ContainsRune(key, 0) {
		return fmt.Errorf("key %q: must be a relative slash path", key)
	}
	for _, part := range strings.Split(key, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("key %q: empty, '.' or '..' path element", key)
		}
	}
	return nil
}
