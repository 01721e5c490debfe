#!/usr/bin/env bash
# fuzz.sh [DURATION]: run every fuzz target of the module for DURATION each
# (default 20s). New failing inputs land in the package's testdata/fuzz and
# are kept as regression cases.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-20s}
status=0
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "== $pkg $target ($time)"
		if ! go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$time" -parallel 2; then
			status=1
		fi
	done
done
exit $status
