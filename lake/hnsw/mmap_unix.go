//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package hnsw

import (
	"fmt"
	"os"
	"syscall"
)

// LoadFile maps the serialized index at path into memory and loads it in
// place: opening is one mmap plus one validating pass, and the page cache
// holds the index, not the Go heap. Close unmaps it.
func LoadFile(path string) (*Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("hnsw: %w", err)
	}
	defer f.Close() // the mapping outlives the descriptor
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("hnsw: %w", err)
	}
	size := st.Size()
	if size < headerSize {
		return nil, fmt.Errorf("hnsw: %s: %w", path, corrupt("%d bytes is shorter than the header", size))
	}
	if int64(int(size)) != size {
		return nil, fmt.Errorf("hnsw: %s: %d bytes do not fit the address space", path, size)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("hnsw: mmap %s: %w", path, err)
	}
	ix, err := Load(data)
	if err != nil {
		_ = syscall.Munmap(data)
		return nil, fmt.Errorf("hnsw: %s: %w", path, err)
	}
	ix.release = func() error {
		if err := syscall.Munmap(data); err != nil {
			return fmt.Errorf("hnsw: munmap %s: %w", path, err)
		}
		return nil
	}
	return ix, nil
}
