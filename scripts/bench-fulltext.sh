#!/usr/bin/env bash
# bench-fulltext.sh: lake/fulltext beside SQLite FTS5 (issue 23), both
# corpora in one run: Debian's fortunes, then FULLTEXT_N generated fleet
# memories (default 1,000,000; a few minutes, most of them FTS5's). The
# peer needs /usr/bin/python3 (Debian's, whose sqlite3 has FTS5); the
# fortunes corpus is Debian's package, installed here when missing.
# Results go to stdout and bench-out/fulltext-<date>.txt; BENCHMARKS.md
# records them. Run through `make bench-fulltext`.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${FULLTEXT_N:-1000000}
queries=${FULLTEXT_QUERIES:-200}
if [ ! -d /usr/share/games/fortunes ]; then
	echo "installing Debian's fortunes package (the fortunes corpus)" >&2
	if [ "$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi
	$sudo apt-get install -y -q fortunes >&2 || { $sudo apt-get update -q >&2 && $sudo apt-get install -y -q fortunes >&2; }
fi
if ! /usr/bin/python3 -c 'import sqlite3; sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE t USING fts5(x)")' 2>/dev/null; then
	echo "/usr/bin/python3 has no sqlite3 with FTS5: the table will have our columns only" >&2
fi
mkdir -p bench-out
out="bench-out/fulltext-$(date -u +%Y%m%dT%H%M%SZ).txt"
go build -o bin/fulltext-bench ./lake/fulltext/bench
# Other benchmarks on the machine take the same lock, so that two never
# time each other.
{
	echo "# $(date -u) on $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "## fortunes"
	flock /tmp/akosha-bench.lock ./bin/fulltext-bench -corpus fortunes -queries "$queries"
	echo "## fleet, $n memories"
	# FTS5 answers a 1M-document OR query in about a second: one timed pass
	# there (its hits are those of that pass), three of ours.
	flock /tmp/akosha-bench.lock ./bin/fulltext-bench -corpus fleet -n "$n" -queries "$queries" -peerreps 1
	echo "# done $(date -u); load $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$out"
