//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package hnsw

import (
	"fmt"
	"os"
)

// LoadFile reads the serialized index at path and loads it. (Where mmap is
// available it maps the file instead.)
func LoadFile(path string) (*Index, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("hnsw: %w", err)
	}
	ix, err := Load(b)
	if err != nil {
		return nil, fmt.Errorf("hnsw: %s: %w", path, err)
	}
	return ix, nil
}
