//go:build !linux

package hnsw

// adviseHuge is a no-op where transparent huge pages are not known.
func adviseHuge[T any](s []T) {}
