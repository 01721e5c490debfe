#!/usr/bin/env bash
# bench.sh: the benchmarks recorded in BENCHMARKS.md, each with the settings
# it needs, against the services with-services.sh started. Results go to
# stdout and bench-out/<date>.txt. Run through `make bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench-out
out="bench-out/$(date -u +%Y%m%dT%H%M%SZ).txt"
{
	echo "# $(date -u) on $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
	echo "## lake writer, one core (records/s), next to raw parquet-go"
	go test -run '^$' -bench 'WriteParquet' -benchtime 5x -count 3 -cpu 1 ./lake/
	echo "## commits against the S3 server"
	go test -run '^$' -bench 'Commit' -benchtime 400x -count 2 ./lake/
	echo "## ingest over HTTP into the S3 server, beside the lake writer alone"
	go test -run '^$' -bench 'IngestHTTP|LakeWriterAlone' -benchtime 3000x -timeout 30m ./functions/ingest/
	if [ -n "${AKOSHA_BENCH_HNSW:-}" ]; then
		echo "## HNSW beside hnswlib and the exact scan (AKOSHA_BENCH_HNSW vectors, e.g. 100000)"
		go run ./lake/hnsw/bench -n "$AKOSHA_BENCH_HNSW"
	fi
	if [ -n "${AKOSHA_BENCH_SEARCH:-}" ]; then
		echo "## /v1/search over 1M vectors: cold (p50 of 7) and warm"
		go test -v -run '^$' -bench 'BenchmarkSearch' -benchtime 1x -timeout 60m ./functions/query/
	fi
	if [ -n "${AKOSHA_BENCH_SMALLFILES:-}" ]; then
		echo "## compaction: 10,000 small files, the six queries before and after"
		go test -run '^$' -bench 'SmallFilesCompaction' -benchtime 1x -timeout 60m ./functions/query/
	fi
	if [ -n "${AKOSHA_BENCH_FULLTEXT:-}" ]; then
		echo "## full text beside SQLite FTS5 (make bench-fulltext; FULLTEXT_N memories)"
		./scripts/bench-fulltext.sh
	fi
	if [ -n "${AKOSHA_BENCH_FLEET:-}" ]; then
		echo "## fleet scale (issue 22): AKOSHA_BENCH_FLEET records over 30 days as 100 and 1,000 systems"
		go test -run '^$' -bench 'BenchmarkFleetIngest' -benchtime 1000x -timeout 30m ./functions/ingest/
		go test -v -run '^$' -bench 'BenchmarkFleet$' -benchtime 1x -timeout 90m ./functions/query/
	fi
	if [ "${AKOSHA_BENCH_DEDUPE:-}" = 1 ]; then
		echo "## compaction's cross-partition dedupe (issue 15): 1M records, 1% re-sent on another day"
		go test -run '^$' -bench 'DedupeRewrite' -benchtime 1x -timeout 60m ./jobs/compact/
	fi
	if [ -n "${AKOSHA_BENCH_QUERY:-}" ]; then
		echo "## query"
		go test -run '^$' -bench 'Query' -benchtime 1x -timeout 60m ./functions/query/
	fi
} 2>&1 | tee "$out"
