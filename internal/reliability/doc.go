// Package reliability holds the end-to-end tests of issue #8: the promises
// "no acknowledged record lost, no duplicate, no one in where they do not
// belong" checked through the real functions, the real binary and the real
// S3 server, under faults, crashes, hostile credentials and load. It has no
// code of its own; RELIABILITY.md at the repository root records the figures
// these tests print and the commands that reproduce them.
//
//	faults_test.go  ingest, query and compaction over HTTP with 10% S3 faults (internal/faultproxy)
//	crash_test.go   `akosha function ingest` and `akosha job compact` killed with SIGKILL, again and again
//	auth_test.go    every refusal of both functions, and rate limiting (in process and Redis)
//	load_test.go    100 systems pushing while 16 clients query; latency, memory, leaks
//
// Short forms run in `make test`; the long forms:
//
//	make crash                 # 50 SIGKILL iterations (AKOSHA_CRASH_ITERATIONS)
//	make load                  # 3 minutes (AKOSHA_LOAD_DURATION)
//	make faults                # 10% S3 faults, a larger run (AKOSHA_FAULT_BATCHES)
//
// Set AKOSHA_FIGURES_DIR to also write each test's figures there as Markdown.
package reliability
