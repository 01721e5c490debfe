package delta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/akosha/akosha/lake/storage"
)

// dirStore is a read-only Store over a directory. The shared conformance
// tables are read through it rather than storage.Local, which creates its
// temp folder in the root and so would write into (read-only) test data.
type dirStore struct{ root string }

var errReadOnly = errors.New("dirStore is read-only")

func (d *dirStore) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := storage.CheckKey(key); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(d.root, filepath.FromSlash(key)))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("get %s: %w", key, storage.ErrNotExist)
		}
		return nil, err
	}
	if offset == 0 && length < 0 {
		return f, nil
	}
	if length < 0 {
		length = 1<<62 - offset
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, offset, length), f}, nil
}

func (d *dirStore) Put(context.Context, string, io.Reader, int64) error         { return errReadOnly }
func (d *dirStore) PutIfAbsent(context.Context, string, io.Reader, int64) error { return errReadOnly }
func (d *dirStore) Delete(context.Context, string) error                        { return errReadOnly }

func (d *dirStore) Head(ctx context.Context, key string) (storage.ObjectInfo, error) {
	fi, err := os.Stat(filepath.Join(d.root, filepath.FromSlash(key)))
	if err != nil || fi.IsDir() {
		return storage.ObjectInfo{}, fmt.Errorf("head %s: %w", key, storage.ErrNotExist)
	}
	return storage.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

func (d *dirStore) List(ctx context.Context, prefix string) ([]storage.ObjectInfo, error) {
	var out []storage.ObjectInfo
	err := filepath.WalkDir(d.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(d.root, p)
		key := filepath.ToSlash(rel)
		if strings.HasPrefix(key, prefix) {
			fi, err := e.Info()
			if err != nil {
				return err
			}
			out = append(out, storage.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()})
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, err
}
