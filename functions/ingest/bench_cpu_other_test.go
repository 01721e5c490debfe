//go:build !linux

package ingest_test

import "time"

// Outside Linux the benchmarks report no CPU figures.

func processCPU(pid int) (time.Duration, bool) { return 0, false }
func s3ServerPID() int                         { return 0 }
