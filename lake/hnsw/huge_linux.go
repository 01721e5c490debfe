package hnsw

import (
	"syscall"
	"unsafe"
)

// adviseHuge asks the kernel to back s with transparent huge pages where the
// system leaves that to madvise (the common default). A build reads vectors
// and neighbour lists at random addresses all over arrays of hundreds of
// megabytes; with 4 KB pages nearly every read also misses the TLB and walks
// the page tables. Call it before the slice is first written, so that the
// first touch faults in huge pages. Errors are ignored: it is only a hint.
func adviseHuge[T any](s []T) {
	const huge = 2 << 20
	if len(s) == 0 {
		return
	}
	p := unsafe.Pointer(unsafe.SliceData(s))
	size := uintptr(len(s)) * unsafe.Sizeof(s[0])
	lead := (huge - uintptr(p)%huge) % huge // bytes up to the first huge page boundary
	if size < lead+huge {
		return
	}
	size = (size - lead) &^ (huge - 1)
	_ = syscall.Madvise(unsafe.Slice((*byte)(unsafe.Add(p, lead)), size), syscall.MADV_HUGEPAGE)
}
