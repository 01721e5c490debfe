//go:build unix

package main

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used, all threads: build
// throughput per CPU-second is less disturbed by other work on a shared
// machine than wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
