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
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return b, nil
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
