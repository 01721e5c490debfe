// Package chaos holds the lake's chaos test: ingest at a steady rate while
// compaction, aging, indexing and vacuum run again and again in parallel, and SQL counts are
// checked throughout. It has no code of its own; see chaos_test.go.
//
//	go test ./jobs/chaos/                      # the short form (~20 s)
//	AKOSHA_CHAOS_LONG=1 go test ./jobs/chaos/  # the long form (3 min)
package chaos
