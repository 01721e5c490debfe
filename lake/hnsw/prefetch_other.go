//go:build !amd64

package hnsw

import "unsafe"

// prefetch is a no-op where there is no assembly for it.
func prefetch(unsafe.Pointer, int) {}
