// Package cputime reads the CPU time this process has used, for benchmarks
// that report work per CPU-second: on a shared machine that is steadier
// than wall time, which counts the time other work held the cores.
package cputime
